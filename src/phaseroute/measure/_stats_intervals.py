"""Fixed-sample confidence bounds for a paired gap: Tango's score interval, paired bootstrap.

Also the exact sign test (McNemar's exact conditional test for 0/1 scores) used to flag
suspicious phases, and the normal-approximation sample size behind "items needed".
All bounds are one-sided at level ``alpha`` each, so ``[lower, upper]`` is a
``1 - 2 alpha`` two-sided interval: the usual convention for non-inferiority.
See docs/statistics.md for the choices and references.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Bounds:
    """A one-sided-``alpha`` lower and upper bound, and the p-value for ``gap >= margin``."""

    lower: float
    upper: float
    p_value: float


def tango_z(b: int, c: int, n: int, delta: float) -> float:
    """Tango's (1998) score statistic for H0: ``(b - c) / n == delta`` in a paired 2x2 table.

    ``b`` counts items only the reference got right, ``c`` items only the candidate got right.
    The nuisance parameter (the candidate-only rate) is its restricted maximum-likelihood
    estimate under H0, which has the closed form below. The statistic decreases in ``delta``.
    """
    numerator = b - c - n * delta
    if numerator == 0:
        return 0.0
    a_ = 2.0 * n
    b_ = -b - c + (2.0 * n - b + c) * delta
    c_ = -c * delta * (1.0 - delta)
    p21 = (math.sqrt(max(b_ * b_ - 4.0 * a_ * c_, 0.0)) - b_) / (2.0 * a_)
    variance = n * (2.0 * p21 + delta * (1.0 - delta))
    if variance <= 0.0:
        return math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def tango_bounds(b: int, c: int, n: int, alpha: float, margin: float) -> Bounds:
    """Invert Tango's score test: the gaps no one-sided level-``alpha`` test rejects."""
    z = float(stats.norm.isf(alpha))
    estimate = (b - c) / n
    edge = 1.0 - 1e-12

    def lower_eq(d: float) -> float:
        return tango_z(b, c, n, d) - z

    def upper_eq(d: float) -> float:
        return tango_z(b, c, n, d) + z

    lower = -1.0 if lower_eq(-edge) <= 0 else optimize.brentq(lower_eq, -edge, estimate, xtol=1e-12)
    upper = 1.0 if upper_eq(edge) >= 0 else optimize.brentq(upper_eq, estimate, edge, xtol=1e-12)
    p_value = float(stats.norm.cdf(tango_z(b, c, n, margin)))
    return Bounds(lower=float(lower), upper=float(upper), p_value=p_value)


def bootstrap_bounds(
    differences: FloatArray, alpha: float, margin: float, *, seed: int, resamples: int
) -> Bounds:
    """Paired BCa bootstrap of the mean difference (resampling items keeps the pairing).

    The p-value for ``gap >= margin`` is the smallest ``alpha`` whose upper bound falls below
    the margin, found from the same resamples (percentile of the BCa-adjusted distribution).
    """
    result = stats.bootstrap(
        (differences,),
        np.mean,
        n_resamples=resamples,
        confidence_level=1.0 - 2.0 * alpha,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    distribution = np.asarray(result.bootstrap_distribution, dtype=np.float64)
    p_value = float((np.count_nonzero(distribution >= margin) + 1) / (distribution.size + 1))
    return Bounds(
        lower=float(result.confidence_interval.low),
        upper=float(result.confidence_interval.high),
        p_value=p_value,
    )


def sign_test(reference_better: int, candidate_better: int) -> float:
    """Two-sided exact sign test: McNemar's exact conditional test on the discordant pairs."""
    m = reference_better + candidate_better
    if m == 0:
        return 1.0
    return float(stats.binomtest(reference_better, m, 0.5).pvalue)


def items_for_power(
    gap: float, variance: float, margin: float, alpha: float, power: float = 0.8
) -> float:
    """Total items a one-sided level-``alpha`` test needs to separate ``gap`` from ``margin``.

    Normal approximation: ``n = ((z_alpha + z_beta) * sigma / |margin - gap|) ** 2`` with the
    per-item variance of the paired differences. ``inf`` when the gap sits on the margin.
    """
    distance = abs(margin - gap)
    if distance == 0.0:
        return math.inf
    z = float(stats.norm.isf(alpha) + stats.norm.isf(1.0 - power))
    return (z * z) * variance / (distance * distance)
