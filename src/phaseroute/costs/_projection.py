"""Daily and monthly cost of a routing plan against uniform top-tier and cheapest-tier use.

Each phase is priced per call on its token profile (tiered prices apply per call), times
its daily volume. A month is 30.4 days (365 / 12, rounded). Phases that cannot be costed
(no token profile, no volume, no price) are listed with the reason, never counted as zero.
"""

from __future__ import annotations

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
    """USD under each scenario (per call, per day or per month: the holder says which)."""

    uniform_top: Decimal
    routed: Decimal
    uniform_cheapest: Decimal

    def __add__(self, other: ScenarioCosts) -> ScenarioCosts:
        return ScenarioCosts(
            self.uniform_top + other.uniform_top,
            self.routed + other.routed,
            self.uniform_cheapest + other.uniform_cheapest,
        )

    def __mul__(self, factor: Decimal | int) -> ScenarioCosts:
        return ScenarioCosts(
            self.uniform_top * factor, self.routed * factor, self.uniform_cheapest * factor
        )

    def of(self, scenario: Scenario) -> Decimal:
        value: Decimal = getattr(self, scenario.value)
        return value

    @property
    def saving(self) -> Decimal:
        """What the routing plan saves against uniform top-tier use."""
        return self.uniform_top - self.routed

    @property
    def saving_pct(self) -> Decimal | None:
        """The saving as a percentage of uniform top-tier cost (None when that is zero)."""
        if self.uniform_top == 0:
            return None
        return self.saving / self.uniform_top * _HUNDRED


ZERO = ScenarioCosts(Decimal(0), Decimal(0), Decimal(0))


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

    @property
    def daily(self) -> ScenarioCosts:
        return sum((p.daily for p in self.phases), ZERO)

    @property
    def monthly(self) -> ScenarioCosts:
        return self.daily * DAYS_PER_MONTH


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
        return sum((w.daily for w in self.workflows), ZERO)

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
                    "daily": _costs_dict(w.daily),
                    "monthly": _costs_dict(w.monthly),
                    "phases": [
                        {
                            "phase": p.phase,
                            "tier": p.tier,
                            "model": p.model,
                            "volume_per_day": p.volume,
                            "tokens_in": p.tokens_in,
                            "tokens_out": p.tokens_out,
                            "below_strong_tier": p.below_strong,
                            "per_call": _costs_dict(p.per_call, savings=False, places=8),
                            "daily": _costs_dict(p.daily),
                            "monthly": _costs_dict(p.monthly),
                        }
                        for p in w.phases
                    ],
                    "not_costed": [{"phase": u.phase, "reason": u.reason} for u in w.uncosted],
                }
                for w in self.workflows
            ],
            "total": {"daily": _costs_dict(self.daily), "monthly": _costs_dict(self.monthly)},
        }


def money(value: Decimal, places: int = 6) -> str:
    """A USD amount as a plain decimal string, rounded to `places` decimals."""
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def pct(value: Decimal | None, places: int = 1) -> str | None:
    return None if value is None else f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _costs_dict(c: ScenarioCosts, savings: bool = True, places: int = 6) -> dict[str, str | None]:
    out: dict[str, str | None] = {s.value: money(c.of(s), places) for s in Scenario}
    if savings:
        out["saving"] = money(c.saving)
        out["saving_pct"] = pct(c.saving_pct)
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
            WorkflowCost(name, strong, tuple(costed), tuple(uncosted))
            for name, (costed, uncosted) in by_workflow.items()
        ),
    )


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
    costs: dict[str, Decimal] = {}
    for model in dict.fromkeys((top, d.model.name, cheapest)):
        cost = book.cost(model, usage)
        if cost is None:
            ref = book.models[model].ref if model in book.models else model
            return UncostedPhase(
                d.workflow,
                d.phase,
                f"no price for model {model!r} ({ref}) in {book.version} — set "
                f"`models.{model}.price_ref` to the catalogue's name or add `models.{model}.price`",
            )
        costs[model] = cost
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
    )
