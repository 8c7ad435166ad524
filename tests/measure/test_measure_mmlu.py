"""Every MMLU subject measured as a phase (margin 2 points), end to end through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phaseroute.cli._app import run
from phaseroute.measure import replay_policy_yaml
from phaseroute.policy import LockFile, load_plan, read_lock
from phaseroute.recorded import read_recorded


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory, mmlu_path: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("mmlu")
    policy = root / "mmlu.yaml"
    text = replay_policy_yaml(read_recorded(mmlu_path), str(mmlu_path), workflow="mmlu")
    policy.write_text(text)
    code = run(["measure", str(policy), "--outcomes", str(mmlu_path), "--report-dir", str(root)])
    assert code == 0
    return {"policy": policy, "lock": read_lock(root / "mmlu.lock.json"), "root": root}


def test_every_subject_is_a_measured_phase(measured: dict[str, Any], mmlu_path: Path) -> None:
    lock: LockFile = measured["lock"]
    subjects = set(read_recorded(mmlu_path).phases)
    assert {name for _, name, _ in lock.phases()} == subjects
    assert len(subjects) == 57
    for _, _, entry in lock.phases():
        assert entry.margin == 0.02
        assert entry.dataset.kind == "recorded"
        assert entry.reference == "gpt-4-1106-preview"


def test_decisions_agree_with_the_intervals_the_lock_reports(measured: dict[str, Any]) -> None:
    lock: LockFile = measured["lock"]
    outcomes = set()
    for _, name, entry in lock.phases():
        (c,) = entry.comparisons
        gap = c.gap
        assert gap.lower <= gap.estimate <= gap.upper, name
        assert gap.estimate == pytest.approx(
            c.reference.value.estimate - c.candidate.value.estimate, abs=2e-6
        )
        for m in (c.reference, c.candidate):
            assert m.value.lower <= m.value.estimate <= m.value.upper, name
        if c.decision == "non_inferior":
            assert gap.upper <= entry.margin, name
        elif c.decision == "inferior":
            assert gap.lower >= entry.margin, name
        else:
            assert gap.lower < entry.margin < gap.upper, name
            assert c.items_needed is None or c.items_needed > 0
        routes_cheap = c.decision == "non_inferior" and not c.suspicious
        assert (entry.chosen == c.candidate.model) == routes_cheap, name
        outcomes.add(entry.outcome)
    # this data has clearly worse subjects, unsettled ones, and the defect below
    assert {"inferior", "inconclusive", "suspicious"} <= outcomes


def test_high_school_mathematics_is_flagged_not_routed_cheap(measured: dict[str, Any]) -> None:
    lock: LockFile = measured["lock"]
    entry = lock.workflows["mmlu"]["high_school_mathematics"]
    assert entry.outcome == "suspicious"
    assert entry.chosen == "gpt-4-1106-preview"
    assert entry.comparisons[0].suspicious
    flagged = [name for _, name, e in lock.phases() if e.outcome == "suspicious"]
    assert flagged == ["high_school_mathematics"]
    d = load_plan(measured["policy"]).decision("mmlu", "high_school_mathematics")
    assert d.basis.value == "rule"
    assert any("suspicious" in w for w in d.warnings)


def test_sequential_testing_stops_early_on_clear_subjects(measured: dict[str, Any]) -> None:
    lock: LockFile = measured["lock"]
    entries = [e for _, _, e in lock.phases()]
    early = [e for e in entries if e.comparisons[0].stopped_early]
    assert early
    assert all(e.comparisons[0].n < e.dataset.items for e in early)
    used = sum(e.comparisons[0].n for e in entries)
    assert used < sum(e.dataset.items for e in entries)


def test_the_plan_cites_the_evidence(measured: dict[str, Any]) -> None:
    plan = load_plan(measured["policy"])
    d = plan.decision("mmlu", "moral_scenarios")
    assert d.basis.value == "measured"
    assert any("not good enough" in r for r in d.reasons)


def test_the_report_is_self_contained(measured: dict[str, Any]) -> None:
    root: Path = measured["root"]
    page = (root / "mmlu.measure.html").read_text()
    assert page.count("src='data:image/png;base64,") == 2
    assert "http://" not in page
    assert "https://" not in page
    assert "high_school_mathematics" in page
    md = (root / "mmlu.measure.md").read_text()
    assert "| mmlu/high_school_mathematics |" in md
    assert "suspicious" in md
