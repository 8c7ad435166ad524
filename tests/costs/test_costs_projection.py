"""Cost projection and the sensitivity model, checked by hand on a small policy."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from cost_policies import ALL_TOP_POLICY, HAND_POLICY
from hypothesis import given, settings
from hypothesis import strategies as st
from project_paths import AML_POLICY

from phaseroute.costs import (
    DAYS_PER_MONTH,
    NoSensitivity,
    PriceBook,
    Sensitivity,
    project_costs,
    sensitivity,
)
from phaseroute.errors import RequestError
from phaseroute.policy import RoutingPlan, compile_policy, load_plan, load_policy_text


def plan_of(text: str) -> RoutingPlan:
    return compile_policy(load_policy_text(text))


def projection_of(text: str):  # type: ignore[no-untyped-def]
    plan = plan_of(text)
    return project_costs(plan, PriceBook.from_policy(plan.policy))


def test_projection_by_hand() -> None:
    p = projection_of(HAND_POLICY)
    assert (p.top_model, p.cheapest_model, p.strong_tier) == ("t", "c", "top")
    (wf,) = p.workflows
    screen, decide = wf.phases
    assert (screen.phase, screen.model, screen.below_strong) == ("screen", "c", True)
    assert (decide.phase, decide.model, decide.below_strong) == ("decide", "t", False)
    assert screen.per_call.uniform_top == Decimal("0.025")
    assert screen.per_call.routed == screen.per_call.uniform_cheapest == Decimal("0.0022")
    assert decide.per_call.uniform_top == decide.per_call.routed == Decimal("0.065")
    assert decide.per_call.uniform_cheapest == Decimal("0.005")
    assert screen.daily.uniform_top == Decimal("25")
    assert decide.daily.uniform_cheapest == Decimal("0.5")
    daily = wf.daily
    assert (daily.uniform_top, daily.routed, daily.uniform_cheapest) == (
        Decimal("31.5"),
        Decimal("8.7"),
        Decimal("2.7"),
    )
    assert daily.saving == Decimal("22.8")
    assert daily.saving_pct is not None
    assert round(daily.saving_pct, 4) == Decimal("72.3810")  # 22.8 / 31.5
    monthly = wf.monthly
    assert Decimal("30.4") == DAYS_PER_MONTH
    assert (monthly.uniform_top, monthly.routed, monthly.uniform_cheapest) == (
        Decimal("957.6"),
        Decimal("264.48"),
        Decimal("82.08"),
    )
    assert p.daily == daily


def test_phases_without_profile_or_volume_are_listed_not_zeroed() -> None:
    (wf,) = projection_of(HAND_POLICY).workflows
    reasons = {u.phase: u.reason for u in wf.uncosted}
    assert set(reasons) == {"unprofiled", "idle"}
    assert "no token profile" in reasons["unprofiled"]
    assert "workflows.wf.phases.unprofiled" in reasons["unprofiled"]
    assert "no volume" in reasons["idle"]
    assert {c.phase for c in wf.phases} == {"screen", "decide"}


def test_to_dict_carries_exact_money_strings_and_reasons() -> None:
    doc = projection_of(HAND_POLICY).to_dict()
    (wf,) = doc["workflows"]
    assert wf["daily"]["routed"] == "8.700000"
    assert wf["monthly"]["uniform_top"] == "957.600000"
    assert wf["daily"]["saving_pct"] == "72.4"
    assert wf["phases"][0]["per_call"]["routed"] == "0.00220000"
    assert [u["phase"] for u in wf["not_costed"]] == ["unprofiled", "idle"]
    assert doc["price_version"].startswith("genai-prices ")
    assert doc["days_per_month"] == "30.4"


def test_unknown_workflow_is_a_request_error() -> None:
    plan = plan_of(HAND_POLICY)
    with pytest.raises(RequestError, match="unknown workflow 'nope'"):
        project_costs(plan, PriceBook.from_policy(plan.policy), "nope")


def test_aml_example_saves_against_uniform_top_tier() -> None:
    plan = load_plan(AML_POLICY)
    p = project_costs(plan, PriceBook.from_policy(plan.policy), "aml_alert_review")
    (wf,) = p.workflows
    assert wf.uncosted == ()
    assert wf.daily.uniform_cheapest < wf.daily.routed < wf.daily.uniform_top


# ------------------------------------------------------------------ sensitivity


def hand_sensitivity() -> Sensitivity:
    (wf,) = projection_of(HAND_POLICY).workflows
    s = sensitivity(wf)
    assert isinstance(s, Sensitivity)
    return s


def test_sensitivity_sits_at_the_projection() -> None:
    s = hand_sensitivity()
    assert s.volume_ratio == pytest.approx(10.0)  # 1,000 screening calls / 100 judgment calls
    assert s.price_ratio == pytest.approx(31.5 / 2.7)
    assert s.saving_pct == pytest.approx(100 * 22.8 / 31.5)


def test_sensitivity_by_hand_off_the_policy_point() -> None:
    s = hand_sensitivity()
    # Volume ratio 1 scales screening volume by 0.1: top 2.5 + 6.5, routed 0.22 + 6.5.
    assert float(s.savings_pct(1.0, s.price_ratio)) == pytest.approx(100 * (1 - 6.72 / 9.0))
    # Twice the price ratio halves the cheap model's cost relative to the top.
    assert float(s.savings_pct(10.0, 2 * s.price_ratio)) == pytest.approx(100 * (1 - 7.6 / 31.5))


def test_savings_grow_with_the_volume_ratio() -> None:
    s = hand_sensitivity()
    ratios = np.geomspace(0.01, 1000, 200)
    for price_ratio in (1.5, 5.0, s.price_ratio, 100.0):
        savings = s.savings_pct(ratios, price_ratio)
        assert np.all(np.diff(savings) > 0)


@settings(max_examples=40, deadline=None)
@given(
    screen_volume=st.integers(1, 1_000_000),
    decide_volume=st.integers(1, 1_000_000),
    tokens=st.tuples(*(st.integers(1, 200_000) for _ in range(4))),
    cheap_in=st.decimals("0.01", "5", places=2),
    factor=st.decimals("1.5", "200", places=1),
)
def test_savings_monotone_in_volume_ratio_for_any_two_tier_policy(
    screen_volume: int,
    decide_volume: int,
    tokens: tuple[int, int, int, int],
    cheap_in: Decimal,
    factor: Decimal,
) -> None:
    text = (
        HAND_POLICY.replace("volume: 1000", f"volume: {screen_volume}")
        .replace("volume: 100\n", f"volume: {decide_volume}\n")
        .replace("{input: 2000, output: 100}", f"{{input: {tokens[0]}, output: {tokens[1]}}}")
        .replace("{input: 4000, output: 500}", f"{{input: {tokens[2]}, output: {tokens[3]}}}")
        .replace(
            '{input_per_mtok: "1", output_per_mtok: "2"}',
            f'{{input_per_mtok: "{cheap_in}", output_per_mtok: "{cheap_in * 4}"}}',
        )
        .replace(
            '{input_per_mtok: "10", output_per_mtok: "50"}',
            f'{{input_per_mtok: "{cheap_in * factor}", '
            f'output_per_mtok: "{cheap_in * 4 * factor}"}}',
        )
        .replace(  # the middle tier priced like the top, so the tier order still holds
            '{input_per_mtok: "3", output_per_mtok: "15"}',
            f'{{input_per_mtok: "{cheap_in * factor}", '
            f'output_per_mtok: "{cheap_in * 4 * factor}"}}',
        )
    )
    (wf,) = projection_of(text).workflows
    s = sensitivity(wf)
    assert isinstance(s, Sensitivity)
    assert s.saving_pct == pytest.approx(float(wf.daily.saving_pct or 0), abs=1e-9)
    savings = s.savings_pct(np.geomspace(s.volume_ratio / 100, s.volume_ratio * 100, 50), 5.0)
    assert np.all(np.diff(savings) > 0)


def test_middle_tier_keeps_its_place_as_prices_move() -> None:
    # With "mid" as the strong tier, the missed-risk phase goes there (rule 2).
    text = HAND_POLICY.replace(
        "tiers: [cheap, mid, top]", "tiers: [cheap, mid, top]\nrouting: {strong_tier: mid}"
    )
    (wf,) = projection_of(text).workflows
    assert wf.strong_tier == "mid"
    decide = next(c for c in wf.phases if c.phase == "decide")
    assert (decide.model, decide.below_strong) == ("m", False)
    s = sensitivity(wf)
    assert isinstance(s, Sensitivity)
    term = next(t for t in s.terms if t.phase == "decide")
    assert 0 < term.alpha < 1
    assert s.saving_pct == pytest.approx(float(wf.daily.saving_pct or 0))
    # Cheaper lower tiers (a higher top/cheapest ratio) save more, the middle tier included.
    assert float(s.savings_pct(s.volume_ratio, 3 * s.price_ratio)) > s.saving_pct


def test_nothing_routed_cheap_has_no_sensitivity() -> None:
    (wf,) = projection_of(ALL_TOP_POLICY).workflows
    s = sensitivity(wf)
    assert isinstance(s, NoSensitivity)
    assert "no costed phase is routed below the strong tier 'top'" in s.reason
