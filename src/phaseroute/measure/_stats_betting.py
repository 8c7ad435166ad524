"""Anytime-valid confidence sequence for a mean gap in [-1, 1], by betting.

Waudby-Smith & Ramdas (2023), "Estimating means of bounded random variables by betting",
JRSS-B 86(1). Each paired difference ``D = reference - candidate`` is mapped to
``X = (D + 1) / 2`` in [0, 1]. For every candidate mean ``m`` on a grid, two gamblers bet
against the nulls "mean >= m" and "mean <= m" with the aGRAPA bet (their §5.2, a predictable
approximation of the growth-optimal bet). By Ville's inequality a gambler's wealth ever
reaching ``1 / alpha`` has probability at most ``alpha`` under its null, at every stopping
time, so a point once rejected stays rejected (the running intersection) and peeking after
every batch costs nothing.

Bounds are reported on the grid and rounded outward, so they are conservative; the margin is
always a grid point, so a decision and the bound it is read from always agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

GRID_STEP = 0.0025  # resolution of the reported bounds, in gap units (a quarter point)
BET_CAP = 0.5  # c in the paper: a bet never risks more than half the wealth
CHUNK = 2048  # items per vectorised block, to bound memory
SUB_CHUNK = 16  # items between prunings of the rejected grid points


class BettingConfidenceSequence:
    """Running, anytime-valid one-sided-``alpha`` bounds on the mean of differences in [-1, 1]."""

    def __init__(self, *, alpha: float, pinned: Sequence[float] = ()) -> None:
        steps = round(2.0 / GRID_STEP)
        grid = np.linspace(-1.0, 1.0, steps + 1)[1:-1]
        grid = np.unique(np.concatenate([grid, np.asarray(pinned, dtype=np.float64)]))
        self.grid: FloatArray = grid[(grid > -1.0) & (grid < 1.0)]
        self._m: FloatArray = (self.grid + 1.0) / 2.0  # grid in X units
        self._threshold = math.log(1.0 / alpha)
        self._log_wealth_below = np.zeros_like(self._m)  # bets that the mean is below m
        self._log_wealth_above = np.zeros_like(self._m)  # bets that the mean is above m
        self._rejected_below: BoolArray = np.zeros(self._m.shape, dtype=np.bool_)
        self._rejected_above: BoolArray = np.zeros(self._m.shape, dtype=np.bool_)
        self._peak_below = np.zeros_like(self._m)  # highest log-wealth ever reached
        self._peak_above = np.zeros_like(self._m)
        self._lowers: FloatArray = np.empty(0)
        self._uppers: FloatArray = np.empty(0)
        self.n = 0
        self._sum = 0.0  # running sum of X
        self._sum_sq = 0.0  # running sum of (X_i - mu_hat_i)^2, as in the paper

    # ------------------------------------------------------------------ updating

    def extend(self, differences: FloatArray) -> None:
        """Add differences in [-1, 1], in the order they were drawn."""
        self._lowers, self._uppers = np.empty(0), np.empty(0)
        for start in range(0, differences.size, CHUNK):
            self._extend_block((differences[start : start + CHUNK] + 1.0) / 2.0)

    def _extend_block(self, x: FloatArray) -> None:
        k = x.size
        t_prev = self.n + np.arange(k, dtype=np.float64)  # items seen before each item
        sums_before = self._sum + np.concatenate([[0.0], np.cumsum(x)[:-1]])
        mu_prev = (0.5 + sums_before) / (t_prev + 1.0)
        mu_after = (0.5 + sums_before + x) / (t_prev + 2.0)
        sq = (x - mu_after) ** 2
        sq_before = self._sum_sq + np.concatenate([[0.0], np.cumsum(sq)[:-1]])
        var_prev = (0.25 + sq_before) / (t_prev + 1.0)

        lowers, uppers = [], []
        for first in range(0, k, SUB_CHUNK):
            rows = slice(first, first + SUB_CHUNK)
            below, above = self._bet_rows(x[rows], mu_prev[rows], var_prev[rows])
            lowers.append(self._lowers_of(above))
            uppers.append(self._uppers_of(below))
        self._lowers = np.concatenate([self._lowers, *lowers])
        self._uppers = np.concatenate([self._uppers, *uppers])
        self.n += k
        self._sum += float(x.sum())
        self._sum_sq += float(sq.sum())

    def _bet_rows(
        self, x: FloatArray, mu_prev: FloatArray, var_prev: FloatArray
    ) -> tuple[BoolArray, BoolArray]:
        """Both gamblers bet on a few items at every grid point still in the sequence.

        A point once rejected (by either gambler) is out of the running intersection for
        good, so it is frozen and no longer computed: after a few dozen items only the
        points near the estimate remain. Returns the per-item rejection flags of the grid.
        """
        active = np.flatnonzero(~(self._rejected_below | self._rejected_above))
        m = self._m[active][None, :]
        mu = mu_prev[:, None]
        spread = var_prev[:, None] + (mu - m) ** 2
        bet_below = np.clip((m - mu) / spread, 0.0, BET_CAP / (1.0 - m))
        bet_above = np.clip((mu - m) / spread, 0.0, BET_CAP / m)
        gain = x[:, None] - m
        path_below = self._log_wealth_below[active] + np.cumsum(np.log1p(-bet_below * gain), axis=0)
        path_above = self._log_wealth_above[active] + np.cumsum(np.log1p(bet_above * gain), axis=0)
        self._log_wealth_below[active] = path_below[-1]
        self._log_wealth_above[active] = path_above[-1]
        self._peak_below[active] = np.maximum(self._peak_below[active], path_below.max(axis=0))
        self._peak_above[active] = np.maximum(self._peak_above[active], path_above.max(axis=0))
        below = np.repeat(self._rejected_below[None, :], x.size, axis=0)
        above = np.repeat(self._rejected_above[None, :], x.size, axis=0)
        below[:, active] = np.logical_or.accumulate(path_below >= self._threshold, axis=0)
        above[:, active] = np.logical_or.accumulate(path_above >= self._threshold, axis=0)
        self._rejected_below = below[-1].copy()
        self._rejected_above = above[-1].copy()
        return below, above

    # ------------------------------------------------------------------ reading

    def upper(self) -> float:
        """Smallest grid gap above which every gap is rejected (1.0 when none is)."""
        return self._upper_from(self._rejected_below)

    def lower(self) -> float:
        """Largest grid gap below which every gap is rejected (-1.0 when none is)."""
        return self._lower_from(self._rejected_above)

    def bounds_history(self) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds as they stood after each item of the last ``extend`` block."""
        return self._lowers, self._uppers

    def p_value_at_least(self, gap: float) -> float:
        """Anytime-valid p-value for "the true gap is ``gap`` or more" (``gap`` on the grid).

        The largest ``1 / peak wealth`` over grid gaps at or above ``gap``, so that
        ``p <= alpha`` exactly when ``upper() <= gap``.
        """
        tail = self._peak_below[self.grid >= gap]
        return float(min(1.0, math.exp(-float(tail.min())))) if tail.size else 1.0

    def _upper_from(self, rejected: BoolArray) -> float:
        return float(self._uppers_of(rejected[None, :])[0])

    def _lower_from(self, rejected: BoolArray) -> float:
        return float(self._lowers_of(rejected[None, :])[0])

    def _uppers_of(self, rejected: BoolArray) -> FloatArray:
        """Per row: the smallest grid gap from which every larger gap is rejected."""
        kept = ~rejected
        size = self.grid.size
        last = size - 1 - np.argmax(kept[:, ::-1], axis=1)
        upper = np.where(last == size - 1, 1.0, self.grid[np.minimum(last + 1, size - 1)])
        return np.where(kept.any(axis=1), upper, self.grid[0])

    def _lowers_of(self, rejected: BoolArray) -> FloatArray:
        """Per row: the largest grid gap up to which every smaller gap is rejected."""
        kept = ~rejected
        first = np.argmax(kept, axis=1)
        lower = np.where(first == 0, -1.0, self.grid[np.maximum(first - 1, 0)])
        return np.where(kept.any(axis=1), lower, self.grid[-1])
