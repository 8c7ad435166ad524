"""Daily and monthly cost of a routing plan against uniform top-tier and cheapest-tier use.

Each phase is priced per call on its token profile (tiered prices apply per call), times
its daily volume. A month is 30.4 days (365 / 12, rounded). Phases that cannot be costed
(no token profile, no volume) are listed with the reason, never counted as zero. A model
the catalogue does not price leaves its scenario of that phase *unpriced* (None): totals
cover what is priced and name what they leave out, and the saving is taken over the phases
priced both on the top tier and as routed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from phaseroute.costs._pricing import PriceBook
from phaseroute.policy import PhaseDecision, RoutingPlan
from phaseroute.providers._base import Usage

DAYS_PER_MONTH = Decimal("30.4")
_HUNDRED = Decimal(100)


class Scenario(StrEnum):
    """Which model serves every phase."""

    uniform_top = "uniform_top"  # the top tier's primary model, everywhere
    routed = "routed"  # the routing plan
    uniform_cheapest = "uniform_cheapest"  # the cheapest tier's primary model, everywhere


@dataclass(frozen=True, slots=True)
class ScenarioCosts:
    """USD under each scenario (per call, per day or per month: the holder says which);
    None where the scenario's model has no price."""

    uniform_top: Decimal | None
    routed: Decimal | None
    uniform_cheapest: Decimal | None

    def __mul__(self, factor: Decimal | int) -> ScenarioCosts:
        return ScenarioCosts(*(None if v is None else v * factor for v in self._values()))

    def _values(self) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        return (self.uniform_top, self.routed, self.uniform_cheapest)

    def of(self, scenario: Scenario) -> Decimal | None:
        value: Decimal | None = getattr(self, scenario.value)
        return value

    @property
    def priced(self) -> bool:
        """True when every scenario has a price."""
        return None not in self._values()

    @property
    def saving(self) -> Decimal | None:
        """What the routing plan saves against uniform top-tier use (negative: it costs
        more); None unless both are priced."""
        if self.uniform_top is None or self.routed is None:
            return None
        return self.uniform_top - self.routed

    @property
    def saving_pct(self) -> Decimal | None:
        """The saving as a percentage of uniform top-tier cost (None when that is zero or
        unpriced)."""
        saving = self.saving
        if saving is None or not self.uniform_top:
            return None
        return saving / self.uniform_top * _HUNDRED


def _sum(costs: Sequence[ScenarioCosts]) -> ScenarioCosts:
    """Totals of what is priced, per scenario (None where nothing is)."""
    totals: list[Decimal | None] = []
    for scenario in Scenario:
        priced = [v for c in costs if (v := c.of(scenario)) is not None]
        totals.append(sum(priced, Decimal(0)) if priced else None)
    return ScenarioCosts(*totals)


@dataclass(frozen=True, slots=True)
class Unpriced:
    """A model the price book has no price for, and the phases that leave out because of it."""

    model: str
    ref: str  # the name looked up in the catalogue
    phases: tuple[str, ...]
    fix: str


@dataclass(frozen=True, slots=True)
class PhaseCost:
    """One costed phase: its route, profile, and cost per call and per day."""

    workflow: str
    phase: str
    tier: str
    model: str
    volume: int  # calls per day
    tokens_in: int
    tokens_out: int
    below_strong: bool  # routed below the strong tier: the "screening" side of the ratio
    per_call: ScenarioCosts
    unpriced: tuple[str, ...] = ()  # models of this phase's scenarios without a price

    @property
    def daily(self) -> ScenarioCosts:
        return self.per_call * self.volume

    @property
    def monthly(self) -> ScenarioCosts:
        return self.daily * DAYS_PER_MONTH


@dataclass(frozen=True, slots=True)
class UncostedPhase:
    """A phase left out of the totals, and why."""

    workflow: str
    phase: str
    reason: str


@dataclass(frozen=True, slots=True)
class WorkflowCost:
    """The costed and uncosted phases of one workflow, with totals over the costed ones."""

    workflow: str
    strong_tier: str  # phases below it are the "screening" side of the volume ratio
    phases: tuple[PhaseCost, ...]
    uncosted: tuple[UncostedPhase, ...]
    unpriced: tuple[Unpriced, ...] = ()

    @property
    def daily(self) -> ScenarioCosts:
        """Totals per scenario over the phases priced in it (see `missing`)."""
        return _sum([p.daily for p in self.phases])

    @property
    def monthly(self) -> ScenarioCosts:
        return self.daily * DAYS_PER_MONTH

    def missing(self, scenario: Scenario) -> tuple[str, ...]:
        """Costed phases left out of `scenario`'s total for want of a price."""
        return tuple(p.phase for p in self.phases if p.per_call.of(scenario) is None)

    @property
    def compared(self) -> tuple[PhaseCost, ...]:
        """Phases priced both on the top tier and as routed: what the saving is taken over."""
        return tuple(p for p in self.phases if p.per_call.saving is not None)

    @property
    def saving_daily(self) -> ScenarioCosts:
        """Daily totals over `compared` only, so `.saving` compares like with like."""
        return _sum([p.daily for p in self.compared])


@dataclass(frozen=True, slots=True)
class CostProjection:
    """What a policy's workflows cost per day and month under the three scenarios."""

    policy_hash: str
    price_version: str
    top_model: str
    cheapest_model: str
    strong_tier: str
    workflows: tuple[WorkflowCost, ...]
    days_per_month: Decimal = DAYS_PER_MONTH

    @property
    def daily(self) -> ScenarioCosts:
        return _sum([w.daily for w in self.workflows])

    @property
    def saving_daily(self) -> ScenarioCosts:
        return _sum([w.saving_daily for w in self.workflows])

    @property
    def monthly(self) -> ScenarioCosts:
        return self.daily * self.days_per_month

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view; money is a decimal string in USD so no precision is lost."""
        return {
            "policy_hash": self.policy_hash,
            "price_version": self.price_version,
            "currency": "USD",
            "days_per_month": str(self.days_per_month),
            "uniform_top_model": self.top_model,
            "uniform_cheapest_model": self.cheapest_model,
            "strong_tier": self.strong_tier,
            "workflows": [
                {
                    "workflow": w.workflow,
                    "daily": _costs_dict(w.daily, w.saving_daily),
                    "monthly": _costs_dict(w.monthly, w.saving_daily * self.days_per_month),
                    "missing": {s.value: list(w.missing(s)) for s in Scenario if w.missing(s)},
                    "saving_over_phases": [p.phase for p in w.compared],
                    "phases": [
                        {
                            "phase": p.phase,
                            "tier": p.tier,
                            "model": p.model,
                            "volume_per_day": p.volume,
                            "tokens_in": p.tokens_in,
                            "tokens_out": p.tokens_out,
                            "below_strong_tier": p.below_strong,
                            "per_call": _costs_dict(p.per_call, None, places=8),
                            "daily": _costs_dict(p.daily, p.daily),
                            "monthly": _costs_dict(p.monthly, p.monthly),
                            "unpriced_models": list(p.unpriced),
                        }
                        for p in w.phases
                    ],
                    "not_costed": [{"phase": u.phase, "reason": u.reason} for u in w.uncosted],
                    "unpriced": [
                        {
                            "model": u.model,
                            "catalogue_name": u.ref,
                            "phases": list(u.phases),
                            "fix": u.fix,
                        }
                        for u in w.unpriced
                    ],
                }
                for w in self.workflows
            ],
            "total": {
                "daily": _costs_dict(self.daily, self.saving_daily),
                "monthly": _costs_dict(self.monthly, self.saving_daily * self.days_per_month),
            },
        }


def money(value: Decimal | None, places: int = 6) -> str | None:
    """A USD amount as a plain decimal string, rounded to `places` decimals (None: unpriced)."""
    if value is None:
        return None
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def pct(value: Decimal | None, places: int = 1) -> str | None:
    return None if value is None else f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _costs_dict(
    c: ScenarioCosts, compared: ScenarioCosts | None, places: int = 6
) -> dict[str, str | None]:
    """Money per scenario (null: unpriced) and, from `compared`, the saving (negative when
    the routing plan costs more)."""
    out: dict[str, str | None] = {s.value: money(c.of(s), places) for s in Scenario}
    if compared is not None:
        out["saving"] = money(compared.saving)
        out["saving_pct"] = pct(compared.saving_pct)
    return out


def project_costs(
    plan: RoutingPlan, book: PriceBook, workflow: str | None = None
) -> CostProjection:
    """Cost every phase of `plan` (or of one `workflow`) under the three scenarios."""
    decisions = plan.for_workflow(workflow) if workflow is not None else list(plan)
    strong = plan.policy.routing.strong_tier or plan.top_tier
    strong_rank = plan.tiers.index(strong)
    top, cheapest = plan.top_model(), plan.cheapest_model()
    by_workflow: dict[str, tuple[list[PhaseCost], list[UncostedPhase]]] = {}
    for d in decisions:
        costed, uncosted = by_workflow.setdefault(d.workflow, ([], []))
        result = _phase_cost(d, book, top.name, cheapest.name, strong_rank)
        if isinstance(result, PhaseCost):
            costed.append(result)
        else:
            uncosted.append(result)
    return CostProjection(
        policy_hash=plan.policy_hash,
        price_version=book.version,
        top_model=top.name,
        cheapest_model=cheapest.name,
        strong_tier=strong,
        workflows=tuple(
            WorkflowCost(name, strong, tuple(costed), tuple(uncosted), _unpriced(costed, book))
            for name, (costed, uncosted) in by_workflow.items()
        ),
    )


def _unpriced(phases: Sequence[PhaseCost], book: PriceBook) -> tuple[Unpriced, ...]:
    found: dict[str, list[str]] = {}
    for p in phases:
        for model in p.unpriced:
            found.setdefault(model, []).append(p.phase)
    out = []
    for model, names in found.items():
        ref = book.models[model].ref if model in book.models else model
        out.append(
            Unpriced(
                model,
                ref,
                tuple(names),
                f"{book.version} has no price for {ref!r}: add "
                f"`price: {{input_per_mtok: N, output_per_mtok: M}}` (USD per million tokens) "
                f"under models.{model} in the policy, or set models.{model}.price_ref to the "
                "name the catalogue knows it by",
            )
        )
    return tuple(out)


def _phase_cost(
    d: PhaseDecision, book: PriceBook, top: str, cheapest: str, strong_rank: int
) -> PhaseCost | UncostedPhase:
    where = f"workflows.{d.workflow}.phases.{d.phase}"
    if d.tokens_in is None or d.tokens_out is None:
        return UncostedPhase(
            d.workflow,
            d.phase,
            f"no token profile — add `tokens: {{input: N, output: M}}` to {where}",
        )
    if d.volume <= 0:
        return UncostedPhase(
            d.workflow, d.phase, f"no volume — set `volume` (calls per day) in {where}"
        )
    usage = Usage(d.tokens_in, d.tokens_out)
    costs: dict[str, Decimal | None] = {}
    for model in dict.fromkeys((top, d.model.name, cheapest)):
        costs[model] = book.cost(model, usage)
    return PhaseCost(
        workflow=d.workflow,
        phase=d.phase,
        tier=d.tier,
        model=d.model.name,
        volume=d.volume,
        tokens_in=d.tokens_in,
        tokens_out=d.tokens_out,
        below_strong=d.model.rank < strong_rank,
        per_call=ScenarioCosts(costs[top], costs[d.model.name], costs[cheapest]),
        unpriced=tuple(m for m, c in costs.items() if c is None),
    )
