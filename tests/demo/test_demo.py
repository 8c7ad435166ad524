"""The offline demo end to end, and the demo policy staying true to the AML example."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from project_paths import ROOT

from phaseroute.cli._app import run
from phaseroute.demo import DemoResult, run_demo
from phaseroute.recorded import read_recorded

EXAMPLE = ROOT / "examples" / "aml"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"), example=EXAMPLE)


def test_routes_follow_the_rules_and_the_measurement(result: DemoResult) -> None:
    by_phase = {p.decision.phase: p for p in result.phases}
    intake = by_phase["intake_screening"]
    assert (intake.decision.model.name, intake.decision.basis.value) == ("mixtral", "measured")
    assert intake.served_by == ("mixtral",)
    # measurement overturned the rule-3 cheap route of enrichment
    enrich = by_phase["entity_enrichment"]
    assert (enrich.decision.tier, enrich.decision.basis.value) == ("frontier", "measured")
    audit = by_phase["compliance_interpretation"]
    assert (audit.decision.tier, audit.decision.rule) == ("frontier", "rule 1: audit")
    # accuracy evidence may not move a missed-risk phase
    typology = by_phase["typology_classification"].decision
    assert typology.basis.value == "rule"
    assert any("recall" in w for w in typology.warnings)


def test_every_case_is_served_scored_and_costed(result: DemoResult) -> None:
    standins = yaml.safe_load((EXAMPLE / "standins.yaml").read_text())["aml_alert_review"]
    recorded = read_recorded(EXAMPLE / "data" / "mmlu_standins.jsonl")
    assert sum(p.items for p in result.phases) == len(recorded)
    assert [p.decision.phase for p in result.phases] == list(standins)
    for p in result.phases:
        assert 0 <= p.score <= 1
        if p.served_by == ("gpt4",):
            assert p.score == p.top_score
            assert p.cost == p.top_cost
    intake = result.phases[0]
    assert intake.cost < intake.top_cost
    assert 0 < result.cost < result.top_cost
    daily = result.projection.daily
    assert daily.routed < daily.uniform_top


def test_recorded_phases_are_audited_and_the_chain_verifies(result: DemoResult) -> None:
    recorded = [p for p in result.phases if p.decision.record]
    assert {p.decision.phase for p in recorded} == {"compliance_interpretation", "qa_filing_review"}
    assert all(p.audited == p.items for p in recorded)
    assert all(p.audited == 0 for p in result.phases if not p.decision.record)
    assert result.audit.ok
    assert result.audit.records == sum(p.items for p in recorded)
    assert result.audit.checkpoints >= 1
    assert result.audit.covered_seq == result.audit.head_seq


def test_replayed_calls_count_output_tokens(result: DemoResult) -> None:
    """The recorded MMLU answers carry no text: each counts the documented one token."""
    assert result.answers_recorded == 0
    for p in result.phases:
        assert p.output_tokens == p.items * result.unrecorded_output_tokens > 0
        assert p.input_tokens > p.items


def test_reports_and_plots_are_written(result: DemoResult) -> None:
    for path in (*result.reports, *result.plots):
        assert path.is_file()
        assert path.stat().st_size > 0
    assert "<img" in result.reports[0].read_text()


def test_demo_policy_declares_the_same_workflow_as_the_example() -> None:
    def phases(name: str) -> dict[str, dict[str, object]]:
        doc = yaml.safe_load((EXAMPLE / name).read_text())
        out = doc["workflows"]["aml_alert_review"]["phases"]
        for ph in out.values():
            ph.pop("quality")
            ph.pop("escalation", None)  # the replay data has no structured answers
        return out  # type: ignore[no-any-return]

    assert phases("replay.yaml") == phases("phaseroute.yaml")


def test_cli_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--workdir", str(tmp_path / "d"), "--example", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    for words in (
        "1. The route of each phase",
        "saving of",
        "verified with the public key",
        "intact",
        "Replayed costs include both sides of every call",
        "1 token(s) per answer",
    ):
        assert words in " ".join(out.split())
    # names are never cut inside a word (in a pipe they are whole, in every table row)
    rows = [line.split() for line in out.splitlines() if line[:1].isalpha()]
    names = {row[0] for row in rows if row}
    assert {"typology_classification", "compliance_interpretation"} <= names
    assert run(["demo", "--example", str(tmp_path / "nowhere")]) == 1
    assert "no AML example found" in capsys.readouterr().err
