"""The lock file: stable JSON, clear errors, per-phase staleness, and what the compiler does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from measure_fixtures import Scores, bernoulli, two_tiers, write_jsonl, write_policy

from phaseroute.errors import LockFileError
from phaseroute.measure import MeasureSettings, PhaseTask, merge_lock, run_measurement
from phaseroute.policy import (
    DatasetRef,
    compile_policy,
    load_plan,
    load_policy,
    lock_path,
    read_lock,
    write_lock,
)
from phaseroute.policy._compiler import INTUITION
from phaseroute.policy._lock import dump_lock, labelled_dataset_hash


def measured(tmp_path: Path, data: dict[str, Any], scores: Scores, phase: str = "screen") -> Path:
    """Write the policy and a dataset, measure `phase` on `scores`, write the lock."""
    policy = write_policy(tmp_path / "policy.yaml", data)
    dataset = write_jsonl(tmp_path / "data" / "screen.jsonl", [{"prompt": "x", "label": "a"}])
    loaded = load_policy(policy)
    ref = DatasetRef(
        kind="labelled",
        path="data/screen.jsonl",
        sha256=labelled_dataset_hash(dataset),
        items=scores.size,
    )
    run = run_measurement(
        [PhaseTask("wf", phase, scores, ref)],
        compile_policy(loaded),
        loaded,
        MeasureSettings(seed=3),
    )
    write_lock(lock_path(policy), merge_lock(lock_path(policy), run))
    return policy


def same_scores() -> Scores:
    same = bernoulli(0.9, 2000, 1)
    return Scores({"large": same, "small": same})


def worse_scores() -> Scores:
    return Scores({"large": bernoulli(0.95, 2000, 2), "small": bernoulli(0.6, 2000, 3)})


def test_the_lock_sits_beside_the_policy_and_is_stable(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores())
    path = tmp_path / "policy.lock.json"
    assert lock_path(policy) == path
    text = path.read_text()
    assert dump_lock(read_lock(path)) == text
    data = json.loads(text)
    assert list(data) == sorted(data)
    entry = data["workflows"]["wf"]["screen"]
    for key in ("margin", "dataset", "measurement_sha256", "policy_sha256", "measured_at"):
        assert key in entry
    assert entry["comparisons"][0]["n"] > 0


def test_measured_evidence_routes_and_replaces_the_intuition_warning(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "policy.yaml", two_tiers())
    before = load_plan(policy).decision("wf", "screen")
    assert before.basis.value == "rule"
    assert any(INTUITION in w for w in before.warnings)

    measured(tmp_path, two_tiers(), same_scores())
    after = load_plan(policy).decision("wf", "screen")
    assert after.basis.value == "measured"
    assert after.model.name == "small"
    assert not any(INTUITION in w for w in after.warnings)
    assert any(r.startswith("Rule 6 (measured)") and "non-inferior" in r for r in after.reasons)


def test_inferior_evidence_moves_a_rule_cheap_phase_to_the_top_tier(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), worse_scores())
    d = load_plan(policy).decision("wf", "screen")
    assert (d.tier, d.basis.value) == ("top", "measured")
    assert any("not good enough" in r for r in d.reasons)


def test_suspicious_evidence_is_not_used(tmp_path: Path) -> None:
    scores = Scores({"large": [0.0] * 300, "small": bernoulli(0.5, 300, 6)})
    policy = measured(tmp_path, two_tiers(), scores)
    d = load_plan(policy).decision("wf", "screen")
    assert d.basis.value == "rule"
    assert any("suspicious" in w for w in d.warnings)


def test_changing_the_measured_phase_makes_its_evidence_stale(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores())
    data = two_tiers()
    data["workflows"]["wf"]["phases"]["screen"]["quality"]["margin"] = 0.01
    write_policy(policy, data)
    d = load_plan(policy).decision("wf", "screen")
    assert d.basis.value == "rule"
    assert any("stale" in w and "quality settings" in w for w in d.warnings)


def test_changing_a_compared_model_makes_the_evidence_stale(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores())
    data = two_tiers()
    data["models"]["small"]["id"] = "claude-haiku-6"
    write_policy(policy, data)
    assert any("stale" in w for w in load_plan(policy).decision("wf", "screen").warnings)


def test_changing_another_phase_keeps_the_evidence(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores())
    data = two_tiers()
    data["workflows"]["wf"]["phases"]["triage"]["quality"]["margin"] = 0.01
    data["workflows"]["wf"]["phases"]["screen"]["volume"] = 5000
    write_policy(policy, data)
    d = load_plan(policy).decision("wf", "screen")
    assert d.basis.value == "measured"
    assert not any("stale" in w for w in d.warnings)


def test_changing_the_dataset_makes_the_evidence_stale(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores())
    write_jsonl(tmp_path / "data" / "screen.jsonl", [{"prompt": "changed", "label": "a"}])
    d = load_plan(policy).decision("wf", "screen")
    assert any("dataset data/screen.jsonl changed" in w for w in d.warnings)


def test_measuring_one_phase_keeps_the_others_in_the_lock(tmp_path: Path) -> None:
    measured(tmp_path, two_tiers(), same_scores(), phase="screen")
    measured(tmp_path, two_tiers(), same_scores(), phase="triage")
    lock = read_lock(tmp_path / "policy.lock.json")
    assert [(wf, ph) for wf, ph, _ in lock.phases()] == [("wf", "screen"), ("wf", "triage")]


def test_recall_evidence_can_route_a_missed_risk_phase_cheap(tmp_path: Path) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores(), phase="triage")
    d = load_plan(policy).decision("wf", "triage")
    assert (d.model.name, d.basis.value) == ("small", "measured")


def test_audit_phase_evidence_agreeing_with_rule_1_is_cited(tmp_path: Path) -> None:
    data = two_tiers()
    data["workflows"]["wf"]["phases"]["screen"]["audit"] = True
    data["audit"] = {"signing_key": "env:PHASEROUTE_TEST_AUDIT_KEY"}  # audited phases need one
    policy = measured(tmp_path, data, worse_scores())
    d = load_plan(policy).decision("wf", "screen")
    assert (d.tier, d.rule) == ("top", "rule 1: audit")
    assert not d.warnings
    assert any(r.startswith("Measurement agrees") and "not good enough" in r for r in d.reasons)


def test_audit_phase_evidence_for_a_cheaper_model_is_only_a_warning(tmp_path: Path) -> None:
    data = two_tiers()
    data["workflows"]["wf"]["phases"]["screen"]["audit"] = True
    data["audit"] = {"signing_key": "env:PHASEROUTE_TEST_AUDIT_KEY"}  # audited phases need one
    policy = measured(tmp_path, data, same_scores())
    d = load_plan(policy).decision("wf", "screen")
    assert (d.tier, d.rule) == ("top", "rule 1: audit")
    assert any("justified override" in w for w in d.warnings)


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["workflows"]["wf"]["screen"].pop("margin"), "workflows.wf.screen.margin"),
        (
            lambda d: d["workflows"]["wf"]["screen"].update(outcome="great"),
            "workflows.wf.screen.outcome",
        ),
        (
            lambda d: d["workflows"]["wf"]["screen"]["comparisons"][0]["gap"].update(upper="x"),
            "workflows.wf.screen.comparisons.[0].gap.upper",
        ),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_a_malformed_lock_names_the_field(tmp_path: Path, edit: Any, path: str) -> None:
    policy = measured(tmp_path, two_tiers(), same_scores())
    lock = lock_path(policy)
    data = json.loads(lock.read_text())
    edit(data)
    lock.write_text(json.dumps(data))
    with pytest.raises(LockFileError) as err:
        load_plan(policy)
    problem = err.value.problems[0]
    assert problem.file == str(lock)
    assert problem.path == path.replace(".[", "[")


def test_a_lock_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "policy.yaml", two_tiers())
    lock_path(policy).write_text('{\n  "format": "phaseroute-lock/1",\n  oops\n}')
    with pytest.raises(LockFileError) as err:
        load_plan(policy)
    assert err.value.problems[0].line == 3
