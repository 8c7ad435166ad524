"""The verdict types of a paired comparison and how bounds become a decision and a sentence.

Shared by the fixed-sample comparison (`_stats.py`) and the sequential one
(`_stats_sequential.py`), so both decide, flag and explain in exactly the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from phaseroute.errors import Problem, RequestError
from phaseroute.measure._stats_betting import FloatArray
from phaseroute.measure._stats_intervals import items_for_power, sign_test

Decision = Literal["non_inferior", "inferior", "inconclusive"]

SUSPICIOUS_ALPHA = 0.001  # two-sided exact sign test level for "far more than chance"
SUSPICIOUS_GAP = 0.10  # ... and the candidate must lead by at least ten points


@dataclass(frozen=True)
class GapEstimate:
    """The gap ``reference_mean - candidate_mean`` on ``n`` paired items, with its bounds.

    ``lower`` and ``upper`` are each one-sided bounds at the comparison's ``alpha``, so together
    they form a two-sided interval at ``level = 1 - 2 alpha`` (90% for alpha 0.05).
    """

    n: int
    reference_mean: float
    candidate_mean: float
    gap: float
    lower: float
    upper: float
    method: str
    level: float


@dataclass(frozen=True)
class NonInferiority:
    """The verdict on one candidate against the reference, with the evidence behind it.

    ``decision`` reads off the bounds: ``non_inferior`` when ``upper <= margin``, ``inferior``
    when ``lower >= margin``. ``items_needed`` is how many *more* items would likely settle an
    inconclusive comparison (None when decided or when no sample size would). ``p_value`` is
    for the null "the gap is at least the margin". ``explanation`` is one plain sentence.
    """

    estimate: GapEstimate
    margin: float
    alpha: float
    decision: Decision
    p_value: float
    items_needed: int | None
    suspicious: str | None
    stopped_early: bool
    explanation: str

    @property
    def routes_cheap(self) -> bool:
        """True when the candidate may take the phase: non-inferior and not suspicious."""
        return self.decision == "non_inferior" and self.suspicious is None


@dataclass(frozen=True)
class TierChoice:
    """Which candidate takes the phase (None keeps the top tier), and why."""

    chosen: str | None
    method: Literal["fixed_sequence", "holm"]
    passed: tuple[str, ...]  # candidates shown non-inferior under the family-wise procedure
    explanation: str


# --------------------------------------------------------------------------- inputs


def paired_differences(
    reference: Sequence[float], candidate: Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    """Check two equally long sequences of 0..1 scores; return them as float arrays."""
    ref = np.asarray(reference, dtype=np.float64).ravel()
    cand = np.asarray(candidate, dtype=np.float64).ravel()
    if ref.size != cand.size:
        raise RequestError(
            [
                Problem(
                    f"paired scores differ in length: {ref.size} reference vs "
                    f"{cand.size} candidate",
                    fix="pass one reference and one candidate score per item",
                )
            ]
        )
    for name, values in (("reference", ref), ("candidate", cand)):
        bad = ~np.isfinite(values) | (values < 0.0) | (values > 1.0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise RequestError(
                [
                    Problem(
                        f"{name} score {values[i]!r} at position {i} is outside 0..1",
                        fix="normalise scores to 0..1 before comparing",
                    )
                ]
            )
    return ref, cand


def check_settings(margin: float, alpha: float) -> None:
    if not 0.0 <= margin < 1.0:
        raise RequestError([Problem(f"margin {margin!r} must be in [0, 1)", fix="e.g. 0.02")])
    if not 0.0 < alpha < 0.5:
        raise RequestError([Problem(f"alpha {alpha!r} must be in (0, 0.5)", fix="e.g. 0.05")])


def is_binary(values: FloatArray) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


# --------------------------------------------------------------------------- verdicts


def _pts(x: float) -> str:
    return f"{100.0 * x:.1f}"


def conclude(
    estimate: GapEstimate,
    *,
    margin: float,
    alpha: float,
    p_value: float,
    differences: FloatArray,
    decision: Decision | None = None,
    stopped_early: bool = False,
    suspicious_alpha: float = SUSPICIOUS_ALPHA,
    suspicious_gap: float = SUSPICIOUS_GAP,
    note: str = "",
) -> NonInferiority:
    """Turn bounds into a decision, a sample-size estimate, a suspicion flag and a sentence."""
    if decision is None:
        if estimate.upper <= margin:
            decision = "non_inferior"
        elif estimate.lower >= margin:
            decision = "inferior"
        else:
            decision = "inconclusive"
    n = estimate.n
    reference_better = int(np.count_nonzero(differences > 0))
    candidate_better = int(np.count_nonzero(differences < 0))
    suspicious = None
    lead = -estimate.gap
    if lead >= suspicious_gap:
        p_sign = sign_test(reference_better, candidate_better)
        if p_sign < suspicious_alpha:
            suspicious = (
                f"the cheaper model beats the top tier by {_pts(lead)} points "
                f"({candidate_better} items only it got right vs {reference_better}; exact sign "
                f"test p = {p_sign:.1g}), far more than chance allows: check the scoring or "
                f"answer extraction before routing this phase cheap"
            )
    items_needed = None
    if decision == "inconclusive":
        # one pseudo-item of maximal spread keeps tiny or constant samples from claiming zero
        # variance (and so zero items needed)
        variance = (n * float(np.var(differences)) + 1.0) / (n + 1.0) if n else 1.0
        total = items_for_power(estimate.gap, variance, margin, alpha)
        # The reported interval may be wider than the fixed-design formula assumes (an
        # anytime-valid sequence is): project its own half-width, which shrinks like
        # 1/sqrt(n), until the bound that would decide crosses the margin.
        distance = abs(margin - estimate.gap)
        half = (
            estimate.upper - estimate.gap
            if estimate.gap < margin
            else estimate.gap - estimate.lower
        )
        if n and distance > 0 and math.isfinite(half):
            total = max(total, n * (half / distance) ** 2)
        if math.isfinite(total):
            items_needed = max(1, math.ceil(total - n))
    confidence = f"{100.0 * (1.0 - alpha):.4g}%"
    head = (
        f"On {n} items the cheaper model scored {_pts(estimate.candidate_mean)}% against "
        f"{_pts(estimate.reference_mean)}% for the top tier (gap {_pts(estimate.gap)} points"
        f"{note})"
    )
    if decision == "non_inferior":
        tail = (
            f"with {confidence} confidence the top tier is better by at most "
            f"{_pts(estimate.upper)} points, within the {_pts(margin)}-point margin"
        )
        if suspicious:
            tail += ", but the phase is flagged suspicious and stays on the top tier"
    elif decision == "inferior":
        tail = (
            f"with {confidence} confidence the top tier is better by at least "
            f"{_pts(estimate.lower)} points, more than the {_pts(margin)}-point margin, "
            f"so the top tier stays"
        )
    else:
        more = (
            f"about {items_needed} more items would likely settle it"
            if items_needed
            else "no feasible number of items would settle it at this gap"
        )
        tail = (
            f"not enough evidence: the top tier could be better by up to {_pts(estimate.upper)} "
            f"points ({confidence} confidence), against a {_pts(margin)}-point margin; {more}, "
            f"so the top tier stays"
        )
    return NonInferiority(
        estimate=estimate,
        margin=margin,
        alpha=alpha,
        decision=decision,
        p_value=p_value,
        items_needed=items_needed,
        suspicious=suspicious,
        stopped_early=stopped_early,
        explanation=f"{head}; {tail}.",
    )
