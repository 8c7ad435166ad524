"""`phaseroute bench`: formats, plot, and one clear message for each user mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from replay_bench_files import write_outcomes

from phaseroute.cli._app import run

PHASES = {
    "triage": {"gpt-4o-mini": 0.85, "gpt-4o": 0.86},
    "decide": {"gpt-4o-mini": 0.4, "gpt-4o": 0.9},
}


@pytest.fixture
def outcomes(tmp_path: Path) -> Path:
    return write_outcomes(tmp_path / "o.jsonl", PHASES, items_per_phase=120, scale="judge")


def test_json_names_every_strategy_and_its_spread(
    outcomes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["bench", "--outcomes", str(outcomes), "--repeats", "2", "--format", "json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reference"] == "gpt-4o"
    assert doc["cheapest"] == "gpt-4o-mini"
    by_key = {s["key"]: s for s in doc["strategies"]}
    assert by_key["kinds"] == {
        **by_key["kinds"],
        "ran": False,
        "not_run": "no --kinds mapping given",
    }
    measured = by_key["measured"]
    assert measured["floor_held"] == 2
    assert len(measured["per_seed"]) == 2
    assert set(measured["saving"]) == {"mean", "sd", "min"}
    routes = {p["phase"]: p["measured_routes"] for p in doc["phases"]}
    assert routes["triage"] == {"gpt-4o-mini": 2, "gpt-4o": 0}
    assert routes["decide"] == {"gpt-4o-mini": 0, "gpt-4o": 2}


def test_markdown_and_table_and_plot(
    outcomes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = tmp_path / "kinds.yaml"
    kinds.write_text("triage: screening\ndecide: judgment\n", encoding="utf-8")
    args = ["bench", "--outcomes", str(outcomes), "--repeats", "1", "--kinds", str(kinds)]
    assert run([*args, "--margin", "0.05", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| kind defaults |" in md
    assert "per-phase margin 5 points" in md
    plot = tmp_path / "plots" / "bench.png"
    assert run([*args, "--plot", str(plot)]) == 0
    table = capsys.readouterr().out
    assert "measured phase routing" in table
    assert "per-item oracle" in table
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.with_suffix(".svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--floor", "1.2"], "--floor 1.2 must be in (0, 1]"),
        (["--floor", "0"], "--floor 0 must be in (0, 1]"),
        (["--floor", "0.9", "--margin", "0.02"], "give either --floor or --margin"),
        (["--reference", "gpt-5"], "--reference 'gpt-5' is not a model of the file"),
        (["--cheap", "nope"], "--cheap 'nope' is not a model of the file"),
        (["--order", "gpt-4o"], "--order must list every model"),
        (["--price", "gpt-4o=cheap"], "is not MODEL=IN:OUT"),
        (["--price", "gpt-4o=x:1"], "not a number"),
        (["--scale", "10"], "--scale '10' is not LOW:HIGH"),
        (["--scale", "3:5"], "outside --scale 3:5"),
        (["--split", "1"], "--split 1 must be in (0, 1)"),
        (["--repeats", "0"], "--repeats 0 must be at least 1"),
    ],
)
def test_user_mistakes_exit_1_with_one_clear_message(
    outcomes: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["bench", "--outcomes", str(outcomes), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err.replace("\n", "")
    assert "Traceback" not in err


def test_a_bad_row_is_named_by_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    rows = [
        {"phase": "a", "item": "a-1", "prompt": "q", "scores": {"m1": 1, "m2": 0}},
        {"phase": "a", "item": "a-2", "prompt": "q", "scores": {"m1": 1, "m3": 0}},
    ]
    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n{oops\n", encoding="utf-8")
    assert run(["bench", "--outcomes", str(bad)]) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{bad}:3:2: not valid JSON" in err

    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert run(["bench", "--outcomes", str(bad)]) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{bad}:1: scores: item 'a-1' has no score for m3" in err
    assert f"{bad}:2: scores: item 'a-2' has no score for m2" in err


def test_a_bad_kinds_mapping_is_named_by_line(
    outcomes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = tmp_path / "kinds.yaml"
    kinds.write_text("triage: screening\ndecide: gut_feeling\n", encoding="utf-8")
    assert run(["bench", "--outcomes", str(outcomes), "--kinds", str(kinds)]) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{kinds}:2: decide: unknown kind 'gut_feeling'" in err
    assert "use one of: planning" in err


def test_a_kinds_mapping_beside_the_file_is_used_by_default(
    outcomes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = outcomes.with_name(f"{outcomes.stem}.kinds.yaml")
    kinds.write_text("triage: screening\ndecide: judgment\n", encoding="utf-8")
    code = run(["bench", "--outcomes", str(outcomes), "--repeats", "2", "--format", "json"])
    assert code == 0
    by_key = {s["key"]: s for s in json.loads(capsys.readouterr().out)["strategies"]}
    assert by_key["kinds"]["ran"] is True
    assert str(kinds) in by_key["kinds"]["description"]
