"""The six rules of the diagnostic, propagation, evidence, and the plan hash."""

from __future__ import annotations

from typing import Any

import pytest
from policies import base, dump, phase

from phaseroute.policy import (
    Basis,
    PhaseEvidence,
    RoutingPlan,
    compile_policy,
    load_plan,
    load_policy_text,
)
from phaseroute.policy._compiler import INTUITION


def plan_of(
    data: dict[str, Any], evidence: dict[tuple[str, str], PhaseEvidence] | None = None
) -> RoutingPlan:
    return compile_policy(load_policy_text(dump(data)), evidence)


def test_rule_1_audit_phase_stays_on_top() -> None:
    d = plan_of(base()).decision("wf", "interpret")
    assert (d.tier, d.rule, d.basis) == ("top", "rule 1: audit", Basis.rule)
    assert "regulator" in d.reasons[0]


def test_rule_1_wins_over_throughput_and_catcher() -> None:
    data = base()
    phase(data, "screen")["audit"] = True
    d = plan_of(data).decision("wf", "screen")
    assert d.tier == "top"
    assert d.rule == "rule 1: audit"


def test_rule_2_missed_risk_gets_strong_tier() -> None:
    data = base()
    data["routing"] = {"strong_tier": "mid"}
    d = plan_of(data).decision("wf", "decide")
    assert (d.tier, d.rule) == ("mid", "rule 2: missed risk")
    # rule 1 still means the top tier, not the strong one
    assert plan_of(data).decision("wf", "interpret").tier == "top"


def test_rule_3_throughput_with_catcher_goes_cheapest() -> None:
    d = plan_of(base()).decision("wf", "screen")
    assert (d.tier, d.rule) == ("cheap", "rule 3: throughput, caught")
    assert "'human'" in d.reasons[0]
    assert any(w.startswith(INTUITION) for w in d.warnings)


def test_rule_3_catcher_may_be_a_downstream_phase() -> None:
    data = base()
    phase(data, "screen")["caught_by"] = "decide"
    assert plan_of(data).decision("wf", "screen").rule == "rule 3: throughput, caught"


def test_rule_4_dependency_inherits_depth_and_asks_for_measurement() -> None:
    d = plan_of(base()).decision("wf", "draft")
    assert (d.tier, d.rule) == ("top", "rule 4: dependency")
    assert "'decide'" in d.reasons[0]
    assert any(w.startswith(INTUITION) for w in d.warnings)
    assert any("Rule 3 did not apply" in r for r in d.reasons)


def test_rule_4_is_transitive() -> None:
    data = base()
    wf = data["workflows"]["wf"]["phases"]
    wf["extract"] = {"kind": "extraction", "catastrophic_error": "throughput", "feeds": ["format"]}
    wf["format"] = {"kind": "execution", "catastrophic_error": "throughput", "feeds": ["draft"]}
    plan = plan_of(data)
    d = plan.decision("wf", "extract")
    assert d.rule == "rule 4: dependency"
    assert "via format → draft" in d.reasons[0]
    assert plan.decision("wf", "format").rule == "rule 4: dependency"


def test_rule_4_stops_at_a_catcher() -> None:
    data = base()
    wf = data["workflows"]["wf"]["phases"]
    wf["extract"] = {"kind": "extraction", "catastrophic_error": "throughput", "feeds": ["check"]}
    wf["check"] = {
        "kind": "execution",
        "catastrophic_error": "throughput",
        "caught_by": "human",
        "feeds": ["decide"],
    }
    plan = plan_of(data)
    assert plan.decision("wf", "check").rule == "rule 3: throughput, caught"
    d = plan.decision("wf", "extract")
    assert (d.tier, d.rule) == ("cheap", "rule 5: kind default")


def test_rule_4_reaches_audit_phases_too() -> None:
    data = base()
    phase(data, "draft")["feeds"] = ["interpret"]
    d = plan_of(data).decision("wf", "draft")
    assert d.rule == "rule 4: dependency"
    assert "audit phase" in d.reasons[0]


@pytest.mark.parametrize(
    ("kind", "tier"),
    [
        ("planning", "top"),
        ("architecture", "top"),
        ("interpretation", "top"),
        ("judgment", "top"),
        ("review", "top"),
        ("screening", "cheap"),
        ("extraction", "cheap"),
        ("drafting", "cheap"),
        ("execution", "cheap"),
    ],
)
def test_rule_5_kind_defaults(kind: str, tier: str) -> None:
    data = base()
    phase(data, "draft")["feeds"] = []
    phase(data, "draft")["kind"] = kind
    d = plan_of(data).decision("wf", "draft")
    assert (d.tier, d.rule) == (tier, "rule 5: kind default")
    assert any(w.startswith(INTUITION) for w in d.warnings) == (tier == "cheap")


def _evidence(
    phase_name: str, model: str | None, metric: str = "recall", **kw: Any
) -> dict[tuple[str, str], PhaseEvidence]:
    return {
        ("wf", phase_name): PhaseEvidence(
            workflow="wf",
            phase=phase_name,
            metric=metric,
            summary="gap 0.4 points, 95% upper bound 1.6 < margin 2.0 (n=400)",
            model=model,
            **kw,
        )
    }


def test_rule_6_measurement_routes_missed_risk_phase_cheaper() -> None:
    d = plan_of(base(), _evidence("decide", "medium")).decision("wf", "decide")
    assert (d.tier, d.basis, d.rule, d.model.name) == (
        "mid",
        Basis.measured,
        "rule 6: measured",
        "medium",
    )
    assert any("Rule 6 (measured)" in r for r in d.reasons)
    assert not any(w.startswith(INTUITION) for w in d.warnings)


def test_rule_6_measurement_removes_the_intuition_flag() -> None:
    d = plan_of(base(), _evidence("screen", "small", metric="accuracy")).decision("wf", "screen")
    assert d.basis is Basis.measured
    assert d.warnings == ()


def test_rule_6_never_overrides_rule_1_silently() -> None:
    d = plan_of(base(), _evidence("interpret", "small")).decision("wf", "interpret")
    assert d.tier == "top"
    assert d.basis is Basis.rule
    assert any("audit phases stay on the top tier" in w for w in d.warnings)


def test_missed_risk_evidence_must_be_on_recall() -> None:
    d = plan_of(base(), _evidence("decide", "small", metric="accuracy")).decision("wf", "decide")
    assert d.tier == "top"
    assert any("recall" in w for w in d.warnings)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"stale": "dataset changed"}, "stale"),
        ({"suspicious": "cheap beats top by 60 points"}, "suspicious"),
    ],
)
def test_unusable_evidence_is_reported_not_used(kw: dict[str, str], words: str) -> None:
    d = plan_of(base(), _evidence("decide", "small", **kw)).decision("wf", "decide")
    assert d.basis is Basis.rule
    assert any(words in w for w in d.warnings)


def test_inconclusive_evidence_keeps_the_rules() -> None:
    d = plan_of(base(), _evidence("decide", None)).decision("wf", "decide")
    assert (d.tier, d.basis) == ("top", Basis.rule)
    assert any("inconclusive" in r for r in d.reasons)


def test_override_with_justification() -> None:
    data = base()
    phase(data, "decide")["route"] = {"tier": "mid", "justification": "validated by QA sampling"}
    d = plan_of(data).decision("wf", "decide")
    assert (d.tier, d.basis, d.rule) == ("mid", Basis.override, "override")
    assert "validated by QA sampling" in d.reasons[-1]


def test_audit_override_is_a_policy_exception() -> None:
    data = base()
    phase(data, "interpret")["route"] = {"model": "medium", "justification": "board approved"}
    d = plan_of(data).decision("wf", "interpret")
    assert (d.tier, d.model.name) == ("mid", "medium")
    assert any("policy exception" in w for w in d.warnings)


def test_fallbacks_never_go_down_and_degrade_is_opt_in() -> None:
    data = base()
    data["models"]["small2"] = {"provider": "p", "id": "claude-haiku-4-5", "tier": "cheap"}
    plan = plan_of(data)
    screen = plan.decision("wf", "screen")
    assert [m.name for m in screen.fallbacks] == ["small2", "medium", "large"]
    assert screen.degrade_to == ()
    assert [m.name for m in screen.escalate_to] == ["medium", "large"]
    assert all(m.rank >= screen.model.rank for m in plan.decision("wf", "decide").fallbacks)
    phase(data, "decide")["on_unavailable"] = "degrade"
    decide = plan_of(data).decision("wf", "decide")
    assert [m.name for m in decide.degrade_to] == ["medium", "small", "small2"]


def test_hash_ignores_order_comments_and_whitespace_but_not_meaning() -> None:
    text = dump(base())
    h = plan_of(base()).policy_hash
    reordered = base()
    reordered = dict(reversed(list(reordered.items())))
    phase(reordered, "screen")["feeds"] = ["draft"]
    assert compile_policy(load_policy_text(dump(reordered))).policy_hash == h
    commented = "# a comment\n\n" + text.replace("\n", "   # note\n", 3)
    assert compile_policy(load_policy_text(commented)).policy_hash == h
    changed = base()
    phase(changed, "screen")["volume"] = 10
    assert plan_of(changed).policy_hash != h
    flow = "version: 1\n" + text.replace("version: 1\n", "")
    assert compile_policy(load_policy_text(flow)).policy_hash == h


def test_hash_is_stable_across_runs() -> None:
    # A fixed policy hashes to a fixed value on any machine (RFC 8785 canonical JSON).
    assert plan_of(base()).policy_hash == plan_of(base()).policy_hash
    assert len(plan_of(base()).policy_hash) == 64


def test_aml_example_routes_as_documented(aml_plan: RoutingPlan) -> None:
    interp = aml_plan.decision("aml_alert_review", "compliance_interpretation")
    assert (interp.tier, interp.rule) == ("frontier", "rule 1: audit")
    screen = aml_plan.decision("aml_alert_review", "intake_screening")
    assert (screen.tier, screen.rule) == ("economy", "rule 3: throughput, caught")
    assert "analyst_review" in screen.reasons[0]
    sar = aml_plan.decision("aml_alert_review", "sar_drafting")
    assert (sar.tier, sar.rule) == ("frontier", "rule 4: dependency")
    assert "qa_filing_review" in sar.reasons[0]
    assert any("measure it" in w for w in sar.warnings)


@pytest.fixture
def aml_plan() -> RoutingPlan:
    from project_paths import AML_POLICY

    return load_plan(AML_POLICY)


def test_measurement_can_move_a_cheap_phase_up() -> None:
    # measured: every cheaper model is worse than the margin allows, so the top model wins
    d = plan_of(base(), _evidence("screen", "large", metric="accuracy")).decision("wf", "screen")
    assert (d.tier, d.basis, d.model.name) == ("top", Basis.measured, "large")
    assert d.warnings == ()


def test_measurement_agreeing_with_rule_1_is_cited() -> None:
    d = plan_of(base(), _evidence("interpret", "large")).decision("wf", "interpret")
    assert (d.tier, d.basis) == ("top", Basis.rule)
    assert any("Measurement agrees" in r for r in d.reasons)
    assert d.warnings == ()
