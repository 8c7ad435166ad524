"""Phase routing at a quality floor: the cheapest plan whose total loss provably fits.

``--floor 0.95`` asks that the routed plan score at least 95% of the reference on the items it
serves, i.e. that the item-weighted total loss ``Σ_p w_p · gap_p`` stays within
``(1 - floor) × reference score``. Two honest difficulties shape the method:

1. **Choosing phases by their measured gaps biases those gaps low** (the winner's curse): the
   phases a search picks are, more often than not, those whose calibration sample happened to
   flatter the cheaper model. Bounding the loss on the same numbers then under-covers; on
   MMLU the naive bound held the floor in fewer than half the repeats. Each phase's gap is
   therefore shrunk towards the gap across all phases (empirical Bayes under a random-effects
   model, DerSimonian–Laird's estimate of the between-phase spread): small or lucky phases
   move most, and the bound uses the posterior uncertainty, including that of the common mean.
2. **The floor is judged on the items actually served**, which are a sample too. When their
   count per phase is known (the benchmark's holdout), the bound is a *prediction* bound that
   adds their sampling variance; without it, a confidence bound on the true loss.

The plan is built greedily (a multiple-choice knapsack): from all phases on the reference,
repeatedly take the feasible move — one phase to a cheaper model — with the most saving per
point of predicted loss (moves predicted to lose nothing first), until none fits. Phases
whose data look wrong (a cheaper model far ahead of the reference, from `compare_paired`'s
suspicion check) never move.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from phaseroute.bench._data import BenchData, FloatArray, IntArray
from phaseroute.bench._routing import FloorBound, PhaseRouting, phase_comparisons, suspicion
from phaseroute.routing._shrink import shrink


def route_at_floor(
    data: BenchData,
    calibration: IntArray,
    *,
    floor: float,
    alpha: float,
    seed: int,
    served: IntArray | None = None,
) -> PhaseRouting:
    """The cheapest phase plan whose predicted total loss bound fits the floor (module doc).

    ``served`` counts, per phase, the items the plan will be judged on; None gives a
    confidence bound on the true loss instead of a prediction bound.
    """
    ref = data.reference
    names = data.names
    n_phases = len(data.phases)
    reference = data.scores[calibration, ref]
    budget = (1.0 - floor) * float(reference.mean()) if calibration.size else 0.0
    rows = phase_comparisons(data, calibration, min(budget, 0.999), alpha, seed)
    flags = tuple(suspicion(row, names) for row in rows)
    if calibration.size == 0 or ref == 0:
        why = "no calibration items" if calibration.size == 0 else "the reference is the cheapest"
        return PhaseRouting((ref,) * n_phases, (why,) * n_phases, flags)

    phase = data.phase_of[calibration]
    counts = np.bincount(phase, minlength=n_phases).astype(np.float64)
    seen = counts > 0
    safe = np.maximum(counts, 1.0)
    if served is None:
        weight = counts / counts.sum()
        served_var_scale = np.zeros(n_phases)
    else:
        served_f = served.astype(np.float64)
        weight = served_f / max(served_f.sum(), 1.0)
        served_var_scale = np.where(served_f > 0, 1.0 / np.maximum(served_f, 1.0), 0.0)
    usable = seen & np.array([f is None for f in flags])

    cost = data.decision_costs[calibration, :]
    shape = (n_phases, ref)
    loss = np.zeros(shape)  # weighted posterior loss of each (phase, candidate)
    var = np.zeros(shape)  # weighted independent variance
    pooled = np.zeros(shape)  # weight × (1 − shrinkage): exposure to the common mean
    gain = np.zeros(shape)  # weighted saving per item
    raw_gap = np.zeros(shape)
    mu_sd = np.zeros(ref)
    tau = math.nan
    for c in range(ref):
        diff = reference - data.scores[calibration, c]
        mean = np.bincount(phase, diff, n_phases) / safe
        spread = np.bincount(phase, diff * diff, n_phases) / safe - mean**2
        # one pseudo-item of maximal spread: no phase claims zero variance
        item_var = (counts * np.maximum(spread, 0.0) + 1.0) / (counts + 1.0)
        post_mean, post_var, tau2, mu_var = shrink(mean, item_var / safe, usable)
        factor = post_var / (item_var / safe)
        loss[:, c] = weight * post_mean
        var[:, c] = weight**2 * (post_var + item_var * served_var_scale)
        pooled[:, c] = weight * (1.0 - factor)
        gain[:, c] = weight * np.bincount(phase, cost[:, ref] - cost[:, c], n_phases) / safe
        raw_gap[:, c] = mean
        mu_sd[c] = math.sqrt(mu_var)
        if c == 0:
            tau = math.sqrt(tau2) if math.isfinite(tau2) else math.nan
    z = float(stats.norm.isf(alpha))

    def upper(total_loss: float, total_var: float, exposure: FloatArray) -> float:
        # the common means are treated as perfectly correlated across candidates (cautious)
        common = float(np.sum(exposure * mu_sd))
        return total_loss + z * math.sqrt(max(total_var, 0.0) + common * common)

    choice = [ref] * n_phases
    total_loss, total_var = 0.0, 0.0
    exposure = np.zeros(ref)

    def parts(p: int, c: int) -> tuple[float, float, float]:
        if c == ref:
            return 0.0, 0.0, 0.0
        return float(loss[p, c]), float(var[p, c]), float(gain[p, c])

    while True:
        best: tuple[float, float, int, int] | None = None
        for p in (int(i) for i in np.flatnonzero(usable)):
            cur = choice[p]
            cur_loss, cur_var, cur_gain = parts(p, cur)
            for c in range(cur):
                d_gain = float(gain[p, c]) - cur_gain
                if d_gain <= 0.0:
                    continue
                d_loss = float(loss[p, c]) - cur_loss
                trial = exposure.copy()
                trial[c] += pooled[p, c]
                if cur != ref:
                    trial[cur] -= pooled[p, cur]
                if upper(total_loss + d_loss, total_var + var[p, c] - cur_var, trial) > budget:
                    continue
                key = (math.inf, d_gain) if d_loss <= 0.0 else (d_gain / d_loss, d_gain)
                if best is None or key > best[:2]:
                    best = (key[0], key[1], p, c)
        if best is None:
            break
        _, _, p, c = best
        cur_loss, cur_var, _ = parts(p, choice[p])
        total_loss += float(loss[p, c]) - cur_loss
        total_var += float(var[p, c]) - cur_var
        exposure[c] += pooled[p, c]
        if choice[p] != ref:
            exposure[choice[p]] -= pooled[p, choice[p]]
        choice[p] = c

    reasons: list[str] = []
    for p in range(n_phases):
        c, n_p = choice[p], int(counts[p])
        if flags[p] is not None:
            reasons.append("suspicious calibration data: stays on the reference")
        elif n_p == 0:
            reasons.append("no calibration items: stays on the reference")
        elif c != ref:
            reasons.append(
                f"to {names[c]}: gap {100 * raw_gap[p, c]:.1f} points on {n_p} calibration "
                f"items ({100 * loss[p, c] / weight[p]:.1f} after shrinkage); the plan's loss "
                "bound fits the floor"
            )
        else:
            reasons.append(
                f"stays: gap {100 * raw_gap[p, 0]:.1f} points on {n_p} calibration items "
                f"({100 * loss[p, 0] / max(weight[p], 1e-12):.1f} after shrinkage) does not "
                "fit the loss budget"
            )
    bound = FloorBound(
        loss=total_loss,
        upper=upper(total_loss, total_var, exposure),
        budget=budget,
        alpha=alpha,
        spread=tau,
        predictive=served is not None,
    )
    return PhaseRouting(tuple(choice), tuple(reasons), flags, bound)
