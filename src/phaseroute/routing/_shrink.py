"""Empirical-Bayes shrinkage of per-phase means towards their common mean.

Each phase's mean is pulled towards the mean across phases in proportion to its own noise
(DerSimonian–Laird's estimate of the between-phase spread, a normal random-effects model):
small or lucky phases move most. Used by phase routing at a floor (`phaseroute.bench`) and by
the per-item router's estimate of each phase's loss (`phaseroute.routing`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

MIN_PHASES_FOR_SHRINKAGE = 3


def shrink(
    mean: FloatArray, variance: FloatArray, usable: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, float, float]:
    """Posterior means and variances of per-phase gaps under a normal random-effects prior.

    Returns (posterior means, posterior variances, tau², variance of the common mean).
    With fewer than three usable phases nothing is shrunk.
    """
    k = int(np.count_nonzero(usable))
    if k < MIN_PHASES_FOR_SHRINKAGE:
        return mean, variance, math.inf, 0.0
    d, v = mean[usable], variance[usable]
    w = 1.0 / v
    fixed = float(np.sum(w * d) / w.sum())
    q = float(np.sum(w * (d - fixed) ** 2))
    tau2 = max(0.0, (q - (k - 1)) / float(w.sum() - np.sum(w * w) / w.sum()))
    w_star = 1.0 / (v + tau2)
    mu = float(np.sum(w_star * d) / w_star.sum())
    mu_variance = float(1.0 / w_star.sum())
    factor = tau2 / (tau2 + variance)
    return mu + factor * (mean - mu), factor * variance, tau2, mu_variance
