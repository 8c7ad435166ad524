"""``phaseroute measure`` and ``phaseroute replay-policy`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from measure_fixtures import recorded_rows, two_tiers, write_jsonl, write_policy

from phaseroute.cli._app import run
from phaseroute.policy import load_plan, load_policy, read_lock

TOP, CHEAP = "claude-opus-5-5", "claude-haiku-5-5"


def replay_setup(tmp_path: Path) -> tuple[Path, Path]:
    rows = recorded_rows("screen", 400, [1], [1], top_id=TOP, cheap_id=CHEAP)
    rows += recorded_rows("triage", 60, [1, 1, 0], [1, 0, 0], top_id=TOP, cheap_id=CHEAP)
    outcomes = write_jsonl(tmp_path / "recorded.jsonl", rows)
    return write_policy(tmp_path / "policy.yaml", two_tiers()), outcomes


def test_measure_replay_writes_lock_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, outcomes = replay_setup(tmp_path)
    assert run(["measure", str(policy), "--outcomes", str(outcomes)]) == 0
    out = capsys.readouterr().out
    assert "no model calls (replay)" in out
    assert "Measurement — wf" in out
    assert "screen" in out
    lock = read_lock(tmp_path / "policy.lock.json")
    assert lock.workflows["wf"]["screen"].chosen == "small"
    assert lock.workflows["wf"]["screen"].dataset.path == "recorded.jsonl"
    assert (tmp_path / "policy.measure.html").is_file()
    assert (tmp_path / "policy.measure.md").is_file()
    assert load_plan(policy).decision("wf", "screen").basis.value == "measured"


def test_measure_one_phase_with_a_mapping_file(tmp_path: Path) -> None:
    policy, outcomes = replay_setup(tmp_path)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("wf:\n  triage: [screen, triage]\n")
    args = ["--outcomes", str(outcomes), "--map", str(mapping), "--phase", "triage"]
    code = run(["measure", str(policy), *args, "--report-dir", str(tmp_path / "r")])
    assert code == 0
    lock = read_lock(tmp_path / "policy.lock.json")
    assert list(lock.workflows["wf"]) == ["triage"]
    entry = lock.workflows["wf"]["triage"]
    assert entry.dataset.subjects == ("screen", "triage")
    assert entry.dataset.items == 460
    assert (tmp_path / "r" / "policy.measure.html").is_file()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        ([], "exactly one of --data DIR (live) or --outcomes FILE", 2),
        (["--data", "d", "--outcomes", "o"], "exactly one of", 2),
        (["--data", "d", "--map", "m"], "--map applies to --outcomes", 2),
        (["--outcomes", "OUT", "--phase", "nope"], "no workflow of this policy has a phase", 1),
    ],
)
def test_usage_mistakes_are_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str, code: int
) -> None:
    """Missing or conflicting options are usage errors (2); a wrong name in them is input (1)."""
    policy, outcomes = replay_setup(tmp_path)
    args = [str(outcomes) if a == "OUT" else a for a in args]
    assert run(["measure", str(policy), *args]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_phase_without_recorded_data_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(tmp_path / "policy.yaml", two_tiers())
    outcomes = write_jsonl(
        tmp_path / "rec.jsonl",
        recorded_rows("other", 10, [1], [1], top_id=TOP, cheap_id=CHEAP),
    )
    assert run(["measure", str(policy), "--outcomes", str(outcomes), "--phase", "screen"]) == 1
    assert "wf/screen: no recorded subject for it in rec.jsonl" in capsys.readouterr().err


def test_recorded_models_must_match_catalogue_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(tmp_path / "policy.yaml", two_tiers())
    outcomes = write_jsonl(
        tmp_path / "rec.jsonl", recorded_rows("screen", 10, [1], [1], top_id=TOP, cheap_id="x")
    )
    assert run(["measure", str(policy), "--outcomes", str(outcomes)]) == 1
    err = capsys.readouterr().err
    assert "no recorded scores for catalogue model 'small' (id 'claude-haiku-5-5')" in err


def test_a_live_measurement_re_run_is_answered_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The replay provider answers live calls offline: the recorded answers are scored again.
    rows = [
        {
            "phase": "screen",
            "item": f"s{i}",
            "prompt": f"case {i}",
            "scores": {TOP: 1, CHEAP: 1},
            "responses": {TOP: "close", CHEAP: "close" if i % 10 else "investigate"},
        }
        for i in range(40)
    ]
    write_jsonl(tmp_path / "rec.jsonl", rows)
    data = two_tiers()
    data["providers"] = {"p": {"type": "replay", "outcomes": "rec.jsonl"}}
    policy = write_policy(tmp_path / "policy.yaml", data)
    dataset = [{"id": f"s{i}", "prompt": f"case {i}", "expected": "close"} for i in range(40)]
    write_jsonl(tmp_path / "data" / "wf" / "screen.jsonl", dataset)
    args = ["measure", str(policy), "--data", str(tmp_path / "data"), "--phase", "screen"]
    assert run(args) == 0
    first = capsys.readouterr().out
    assert "80 model call(s), 0 answered from the cache" in first
    assert (tmp_path / "phaseroute.db").is_file()
    assert run(args) == 0
    assert "0 model call(s), 80 answered from the cache" in capsys.readouterr().out
    entry = read_lock(tmp_path / "policy.lock.json").workflows["wf"]["screen"]
    assert entry.comparisons[0].candidate.value.estimate == pytest.approx(36 / 40)
    assert entry.dataset.kind == "labelled"


def test_replay_policy_writes_a_loadable_policy(tmp_path: Path) -> None:
    rows = recorded_rows("Law & Order", 5, [1], [0], top_id="org/big-1", cheap_id="small-1")
    outcomes = write_jsonl(tmp_path / "rec.jsonl", rows)
    out = tmp_path / "gen" / "policy.yaml"
    assert run(["replay-policy", str(outcomes), "-o", str(out), "--margin", "0.05"]) == 0
    loaded = load_policy(out)
    policy = loaded.policy
    assert policy.tiers == ["cheap", "strong"]
    assert {m.id: m.tier for m in policy.models.values()} == {
        "small-1": "cheap",
        "org/big-1": "strong",
    }
    (phase,) = policy.workflows["rec"].phases
    assert phase == "Law-Order"
    assert policy.workflows["rec"].phases[phase].quality.margin == 0.05
    # and it measures straight away: the sanitised phase name maps back to its subject
    assert run(["measure", str(out), "--outcomes", str(outcomes)]) == 0
    lock = json.loads((tmp_path / "gen" / "policy.lock.json").read_text())
    assert lock["workflows"]["rec"]["Law-Order"]["dataset"]["subjects"] == ["Law & Order"]
