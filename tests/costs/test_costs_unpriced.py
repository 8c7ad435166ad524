"""Unpriced models are shown as unpriced (never summed as $0.00), and a routing plan that
costs more than uniform top-tier use is never printed as a saving."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from cost_policies import HAND_POLICY

from phaseroute.cli._app import run
from phaseroute.costs import NoSensitivity, PriceBook, Scenario, project_costs, sensitivity
from phaseroute.policy import compile_policy, load_policy_text

TOP_PRICE = '    price: {input_per_mtok: "10", output_per_mtok: "50"}\n'
CHEAP_PRICE = '    price: {input_per_mtok: "1", output_per_mtok: "2"}\n'
# the top model loses its override; the catalogue has no "in-house-large"
TOP_UNPRICED = HAND_POLICY.replace(TOP_PRICE, "")
CHEAP_UNPRICED = HAND_POLICY.replace(CHEAP_PRICE, "")
# a second top-tier model, dearer than the primary, takes the high-volume phase by override:
# the routed plan costs more than uniform use of the top tier's primary model
DEARER = HAND_POLICY.replace(
    "controls:",
    """  t2:
    provider: local
    id: in-house-xl
    tier: top
    price: {input_per_mtok: "40", output_per_mtok: "200"}
controls:""",
).replace(
    "        caught_by: human\n        volume: 1000",
    "        caught_by: human\n        route: {model: t2, justification: tested}\n"
    "        volume: 1000",
)


def _projection(text: str):  # type: ignore[no-untyped-def]
    plan = compile_policy(load_policy_text(text))
    return project_costs(plan, PriceBook.from_policy(plan.policy))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unpriced_top_model_leaves_the_priced_scenarios_totalled() -> None:
    (wf,) = _projection(TOP_UNPRICED).workflows
    assert {p.phase for p in wf.phases} == {"screen", "decide"}
    d = wf.daily
    assert d.uniform_top is None  # not $0.00
    assert d.routed == Decimal("2.2")  # screen on the priced cheap model; decide unpriced
    assert d.uniform_cheapest == Decimal("2.7")
    assert wf.missing(Scenario.uniform_top) == ("screen", "decide")
    assert wf.missing(Scenario.routed) == ("decide",)
    assert wf.compared == ()
    assert wf.saving_daily.saving is None
    (u,) = wf.unpriced
    assert (u.model, u.ref, u.phases) == ("t", "in-house-large", ("screen", "decide"))
    assert "price: {input_per_mtok: N, output_per_mtok: M}" in u.fix
    assert "models.t" in u.fix
    assert isinstance(sensitivity(wf), NoSensitivity)


def test_the_saving_is_taken_over_phases_priced_both_ways() -> None:
    (wf,) = _projection(CHEAP_UNPRICED).workflows
    # screen is routed to the unpriced cheap model: only decide (on top) is compared
    assert [p.phase for p in wf.compared] == ["decide"]
    assert wf.daily.uniform_top == Decimal("31.5")
    assert wf.saving_daily.saving == Decimal(0)


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_cost_cli_names_unpriced_models_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert run(["cost", str(_write(tmp_path, TOP_UNPRICED)), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        (wf,) = json.loads(out)["workflows"]
        assert wf["daily"]["uniform_top"] is None
        assert wf["daily"]["routed"] == "2.200000"
        assert wf["daily"]["saving"] is None
        assert wf["missing"]["uniform_top"] == ["screen", "decide"]
        (u,) = wf["unpriced"]
        assert u["model"] == "t"
        assert "price:" in u["fix"]
        assert wf["phases"][0]["per_call"]["uniform_top"] is None
        return
    flat = " ".join(out.split())
    assert "unpriced" in flat
    assert "$0.00" not in flat
    assert re.search(r"Unpriced: \**t\**", flat)
    assert "price: {input_per_mtok: N, output_per_mtok: M}" in flat
    assert "$2.20" in flat  # what is priced is still totalled


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_a_dearer_routing_plan_is_never_called_a_saving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    (wf,) = _projection(DEARER).workflows
    saving = wf.saving_daily.saving
    assert saving is not None
    assert saving < 0
    assert run(["cost", str(_write(tmp_path, DEARER)), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        (doc,) = json.loads(out)["workflows"]
        assert Decimal(doc["daily"]["saving"]) == saving  # signed, for machines
        return
    flat = " ".join(out.split())
    assert "more" in flat
    # No negative amount in any spelling: $-0.04, -$0.04, -0.04, (−0.04), $ -0.04.
    assert not re.search(r"(^|[\s(|])[-−]\s?\$?\d|\$\s?[-−]\s?\d", flat), flat
    assert "plan saves" not in flat
    assert re.search(r"routing plan costs \$[\d,.]+/(day|month).* more", flat)
