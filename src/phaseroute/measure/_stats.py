"""Is a cheaper model non-inferior to the top tier on a phase? Paired statistics, honestly.

For paired 0..1 scores on the same items the gap is ``mean(reference) - mean(candidate)``.
The candidate is *non-inferior* when, at one-sided level ``alpha``, the gap is below the
phase's margin; *inferior* when it is above the margin; otherwise *inconclusive* and we say
how many more items would likely settle it. A candidate that beats the reference by far more
than chance allows is flagged *suspicious* (usually a scoring or extraction defect) and is
never routed to. Methods and references: docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from phaseroute.errors import Problem, RequestError
from phaseroute.measure._stats_betting import BettingConfidenceSequence
from phaseroute.measure._stats_intervals import bootstrap_bounds, tango_bounds
from phaseroute.measure._stats_sequential import SequentialComparison
from phaseroute.measure._stats_verdict import (
    SUSPICIOUS_ALPHA,
    SUSPICIOUS_GAP,
    Decision,
    GapEstimate,
    NonInferiority,
    TierChoice,
    check_settings,
    conclude,
    is_binary,
    paired_differences,
)

__all__ = [
    "Decision",
    "GapEstimate",
    "NonInferiority",
    "SequentialComparison",
    "TierChoice",
    "choose_cheapest",
    "compare_paired",
]

SMALL_SAMPLE = 30  # below this a bootstrap cannot be trusted; fractional scores use betting
BOOTSTRAP_RESAMPLES = 9999


# --------------------------------------------------------------------------- fixed sample


def compare_paired(
    reference: Sequence[float],
    candidate: Sequence[float],
    *,
    margin: float,
    alpha: float = 0.05,
    binary: bool | None = None,
    seed: int = 0,
    suspicious_alpha: float = SUSPICIOUS_ALPHA,
    suspicious_gap: float = SUSPICIOUS_GAP,
) -> NonInferiority:
    """Fixed-sample non-inferiority of ``candidate`` against ``reference`` on paired items.

    0/1 scores use Tango's score interval for paired proportions; fractional scores a seeded
    paired BCa bootstrap, or the finite-sample betting interval when fewer than
    ``SMALL_SAMPLE`` items or constant differences would make a bootstrap overconfident.
    ``binary=None`` detects 0/1 scores.
    """
    check_settings(margin, alpha)
    ref, cand = paired_differences(reference, candidate)
    n = ref.size
    if n == 0:
        raise RequestError([Problem("no paired scores to compare", fix="pass at least one item")])
    detected = is_binary(ref) and is_binary(cand)
    if binary and not detected:
        raise RequestError(
            [Problem("binary=True but some scores are not 0 or 1", fix="pass binary=None")]
        )
    diffs = ref - cand
    if binary is None:
        binary = detected
    if binary:
        b = int(np.count_nonzero(diffs > 0))
        c = int(np.count_nonzero(diffs < 0))
        bounds = tango_bounds(b, c, n, alpha, margin)
        method = "Tango score interval (paired 0/1)"
        lower, upper, p_value = bounds.lower, bounds.upper, bounds.p_value
    elif n >= SMALL_SAMPLE and float(np.ptp(diffs)) > 0.0:
        bounds = bootstrap_bounds(diffs, alpha, margin, seed=seed, resamples=BOOTSTRAP_RESAMPLES)
        method = f"paired BCa bootstrap ({BOOTSTRAP_RESAMPLES} resamples, seed {seed})"
        lower, upper, p_value = bounds.lower, bounds.upper, bounds.p_value
    else:
        cs = BettingConfidenceSequence(alpha=alpha, pinned=(margin,))
        cs.extend(diffs)
        method = "betting confidence interval (small or constant sample)"
        lower, upper, p_value = cs.lower(), cs.upper(), cs.p_value_at_least(margin)
    estimate = GapEstimate(
        n=n,
        reference_mean=float(ref.mean()),
        candidate_mean=float(cand.mean()),
        gap=float(diffs.mean()),
        lower=lower,
        upper=upper,
        method=method,
        level=1.0 - 2.0 * alpha,
    )
    return conclude(
        estimate,
        margin=margin,
        alpha=alpha,
        p_value=p_value,
        differences=diffs,
        suspicious_alpha=suspicious_alpha,
        suspicious_gap=suspicious_gap,
    )


# --------------------------------------------------------------------------- several tiers


def choose_cheapest(
    candidates: Sequence[tuple[str, NonInferiority]],
    *,
    method: Literal["fixed_sequence", "holm"] = "fixed_sequence",
) -> TierChoice:
    """Pick the cheapest candidate non-inferior to the top tier, keeping family-wise error.

    ``candidates`` are ordered cheapest first. ``fixed_sequence`` (the default) tests from
    the most expensive candidate down, each at the full ``alpha``, and stops at the first that
    fails: the family-wise error stays at ``alpha`` because a later test only counts if every
    earlier one passed. ``holm`` tests all candidates with Holm's step-down correction on
    their p-values, which does not need an order but spends ``alpha`` across the tiers.
    A suspicious candidate is never chosen and, under fixed-sequence, ends the sequence.
    """
    if not candidates:
        return TierChoice(
            None, method, (), "No cheaper candidate was measured; the top tier stays."
        )
    alphas = {result.alpha for _, result in candidates}
    if len(alphas) != 1:
        raise RequestError(
            [Problem("candidates were compared at different alphas", fix="use one alpha")]
        )
    alpha = alphas.pop()
    passed: list[str] = []
    if method == "fixed_sequence":
        for name, result in reversed(candidates):
            if not result.routes_cheap:
                break
            passed.append(name)
        rule = f"fixed-sequence testing from the most expensive candidate down, each at {alpha}"
    else:
        ordered = sorted(candidates, key=lambda item: item[1].p_value)
        k = len(ordered)
        for rank, (name, result) in enumerate(ordered):
            if result.p_value > alpha / (k - rank):
                break
            if result.suspicious is None:
                passed.append(name)
        rule = f"Holm's step-down correction over {k} candidates at family-wise {alpha}"
    names = [name for name, _ in candidates]
    chosen = min(passed, key=names.index) if passed else None
    if chosen is None:
        explanation = (
            f"No cheaper candidate is shown non-inferior under {rule}; the top tier stays."
        )
    else:
        explanation = f"{chosen} is the cheapest candidate shown non-inferior under {rule}."
    return TierChoice(chosen, method, tuple(passed), explanation)
