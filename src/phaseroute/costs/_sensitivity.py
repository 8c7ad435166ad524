"""How a routing plan's saving moves with the volume ratio and the tier price ratio.

Two knobs, each relative to where the policy sits today:

- **volume ratio** r = calls/day of phases routed below the strong tier ÷ calls/day of the
  rest. Moving r scales the volumes of the cheap-routed phases by r / r₀.
- **price ratio** ρ = uniform top-tier cost ÷ uniform cheapest-tier cost on the workflow's
  own token mix. Moving ρ makes every lower-tier model cheaper relative to the top by
  (ρ / ρ₀)^α, where α is that model's position between top (0) and cheapest (1) on a log
  scale at today's prices — so a middle tier stays in the middle.

At (r₀, ρ₀) the model gives exactly the projection's saving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads when a saving is computed, not with the cost package
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

from phaseroute.costs._projection import WorkflowCost


@dataclass(frozen=True, slots=True)
class SensitivityTerm:
    """One costed phase reduced to what the saving depends on."""

    phase: str
    volume: float  # calls per day
    top_cost: float  # USD per call on the top model
    routed_ratio: float  # routed cost ÷ top cost, per call, at today's prices
    alpha: float  # log-position of the routed model between top (0) and cheapest (1)
    below_strong: bool


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """The saving of one workflow as a function of volume ratio and price ratio."""

    workflow: str
    volume_ratio: float  # r₀: the policy's screening-to-judgment volume ratio
    price_ratio: float  # ρ₀: the policy's top-to-cheapest price ratio on this workflow
    terms: tuple[SensitivityTerm, ...]

    @property
    def saving_pct(self) -> float:
        """The saving at the policy's own point (equals the projection's)."""
        return float(self.savings_pct(self.volume_ratio, self.price_ratio))

    def savings_pct(self, volume_ratio: ArrayLike, price_ratio: ArrayLike) -> NDArray[np.float64]:
        """Saving against uniform top-tier use, in %, at each (volume ratio, price ratio)."""
        import numpy as np  # noqa: PLC0415 - see the imports above

        r, rho = np.broadcast_arrays(
            np.asarray(volume_ratio, dtype=np.float64), np.asarray(price_ratio, dtype=np.float64)
        )
        scale = r / self.volume_ratio
        relative_price = rho / self.price_ratio
        routed = np.zeros(r.shape, dtype=np.float64)
        top = np.zeros(r.shape, dtype=np.float64)
        for t in self.terms:
            weight = scale if t.below_strong else 1.0
            top_daily = weight * t.volume * t.top_cost
            top = top + top_daily
            routed = routed + top_daily * t.routed_ratio * relative_price ** (-t.alpha)
        result: NDArray[np.float64] = 100.0 * (1.0 - routed / top)
        return result


@dataclass(frozen=True, slots=True)
class NoSensitivity:
    """Why a workflow's saving cannot be varied along the two ratios."""

    workflow: str
    reason: str


def sensitivity(cost: WorkflowCost) -> Sensitivity | NoSensitivity:
    """The sensitivity model of one projected workflow (or why there is none)."""
    if not cost.phases:
        return NoSensitivity(cost.workflow, "no phase of this workflow could be costed")
    unpriced = [p.phase for p in cost.phases if not p.per_call.priced]
    if unpriced:
        return NoSensitivity(
            cost.workflow,
            f"{', '.join(unpriced)} lack a price on some tier, so the ratios cannot be varied",
        )
    below = sum(p.volume for p in cost.phases if p.below_strong)
    rest = sum(p.volume for p in cost.phases if not p.below_strong)
    if below == 0:
        return NoSensitivity(
            cost.workflow,
            f"no costed phase is routed below the strong tier {cost.strong_tier!r}, so there is "
            "no screening volume to vary",
        )
    if rest == 0:
        return NoSensitivity(
            cost.workflow,
            f"every costed phase is routed below the strong tier {cost.strong_tier!r}, so there "
            "is no judgment volume to compare against",
        )
    daily = cost.daily
    if (
        daily.uniform_cheapest is None
        or daily.uniform_top is None
        or daily.uniform_cheapest <= 0
        or daily.uniform_top <= daily.uniform_cheapest
    ):
        return NoSensitivity(
            cost.workflow,
            "the cheapest tier is not cheaper than the top tier on this workflow's token mix",
        )
    terms = []
    for p in cost.phases:
        c = p.per_call
        if c.uniform_top is None or c.routed is None or c.uniform_cheapest is None:
            continue  # not reached: unpriced phases returned above
        top = float(c.uniform_top)
        if top <= 0:
            continue  # costs nothing on the top tier, so it moves no total
        routed = float(c.routed) / top
        cheapest = float(c.uniform_cheapest) / top
        if cheapest >= 1.0:
            alpha = 0.0
        elif routed <= 0.0 or cheapest <= 0.0:
            alpha = 1.0 if routed < 1.0 else 0.0
        else:
            alpha = math.log(routed) / math.log(cheapest)
        terms.append(SensitivityTerm(p.phase, float(p.volume), top, routed, alpha, p.below_strong))
    return Sensitivity(
        workflow=cost.workflow,
        volume_ratio=below / rest,
        price_ratio=float(daily.uniform_top / daily.uniform_cheapest),
        terms=tuple(terms),
    )
