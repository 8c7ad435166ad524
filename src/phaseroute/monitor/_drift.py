"""Drift of a routed phase, as a sequential test on shadow pairs.

Each shadow pair gives a difference ``D = top-tier score - routed score`` in [-1, 1]. The
route is healthy while the gap stays within the phase's non-inferiority margin. Drift is
the alternative that, from some unknown pair on, the gap exceeds the margin.

`DriftTest` is a test supermartingale for the null "for every pair, E[D | the past] <=
margin": with ``X = (D + 1) / 2`` and ``m = (margin + 1) / 2`` the wealth
``K_n = prod(1 + lambda_i (X_i - m))`` with a predictable bet ``lambda_i >= 0`` is a
nonnegative supermartingale under the null, so by Ville's inequality it ever reaches
``1 / alpha`` with probability at most ``alpha`` — over any number of pairs, checked after
every pair. The null holds pair by pair, so it also covers a gap that changes over time
while staying within the margin. The bet is the aGRAPA bet (Waudby-Smith & Ramdas 2023,
§5.2) computed on a trailing window of earlier pairs, and zero while that window's mean is
within the margin: a healthy phase risks nothing, and a drift that starts after a long
healthy history is detected about as fast as one that starts at once.

`PhaseWatch` adds what a person reads: the recent gap (mean over the trailing window), its
interval over that window (the measurement harness's fixed-sample method), and a state.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from phaseroute.measure._stats import compare_paired

BET_CAP = 0.5  # a bet never risks more than half the wealth
WINDOW = 200  # pairs in the trailing window the bet and the live gap are read from
MIN_WINDOW = 20  # pairs before any bet is placed
SHRINK = 1.0  # standard errors taken off the window's excess before betting on it


class DriftState(StrEnum):
    """What the shadow pairs say about a routed phase."""

    holding = "holding"  # the interval's upper bound is within the margin
    watching = "watching"  # not shown within the margin, no evidence of drift either
    drifted = "drifted"  # the drift test rejected "gap <= margin": the alarm


class DriftTest:
    """Anytime-valid one-sided test of "gap <= margin" on paired differences in [-1, 1]."""

    def __init__(self, *, margin: float, alpha: float, window: int = WINDOW) -> None:
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {margin!r}")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        self.margin = margin
        self.alpha = alpha
        self._m = (margin + 1.0) / 2.0
        self._cap = BET_CAP / self._m
        self._threshold = math.log(1.0 / alpha)
        self._recent: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._sum_sq = 0.0
        self.log_wealth = 0.0
        self.n = 0
        self.rejected_at: int | None = None

    def _bet(self) -> float:
        k = len(self._recent)
        if k < MIN_WINDOW:
            return 0.0
        mean = self._sum / k
        variance = max(self._sum_sq / k - mean * mean, 0.0)
        # Bet on the window's excess less one standard error: a phase whose gap sits near
        # the margin rarely bets, so a long healthy history costs little wealth.
        excess = mean - self._m - SHRINK * math.sqrt(variance / k)
        if excess <= 0:
            return 0.0
        return min(excess / (variance + excess * excess), self._cap)

    def add(self, difference: float) -> bool:
        """Add one pair's difference; True once the test has rejected (it stays rejected)."""
        if not -1.0 <= difference <= 1.0 or math.isnan(difference):
            raise ValueError(f"a difference must be in [-1, 1], got {difference!r}")
        x = (difference + 1.0) / 2.0
        bet = self._bet()
        if bet:
            self.log_wealth += math.log1p(bet * (x - self._m))
        if len(self._recent) == self._recent.maxlen:
            old = self._recent[0]
            self._sum -= old
            self._sum_sq -= old * old
        self._recent.append(x)
        self._sum += x
        self._sum_sq += x * x
        self.n += 1
        if self.rejected_at is None and self.log_wealth >= self._threshold:
            self.rejected_at = self.n
        return self.rejected_at is not None

    @property
    def window_gap(self) -> float | None:
        """Mean difference over the trailing window (None before the first pair)."""
        k = len(self._recent)
        return None if k == 0 else 2.0 * self._sum / k - 1.0


def predicted_pairs(
    *,
    gap: float,
    spread: float,
    margin: float,
    alpha: float,
    window: int = WINDOW,
    runs: int = 101,
    seed: int = 0,
) -> int:
    """How many pairs after a drift to `gap` (per-pair standard deviation `spread`, in gap
    units) the test needs to raise the alarm, read off the test itself: the upper quartile
    of its delay over `runs` simulated drifts of differences in {-1, 0, 1} with that mean
    and spread, each after a full window of healthy pairs (zero gap, the same spread)."""
    if gap <= margin:
        raise ValueError("a gap within the margin is not drift")
    mass = spread * spread + gap * gap  # P(+1) + P(-1)
    up, down = (mass + gap) / 2.0, (mass - gap) / 2.0
    if not (down >= 0 and up + down <= 1):
        raise ValueError(f"no differences in [-1, 1] have mean {gap} and spread {spread}")
    rng = random.Random(seed)
    limit = 100 * window
    delays = []
    for _ in range(runs):
        test = DriftTest(margin=margin, alpha=alpha, window=window)
        for _ in range(window):  # healthy: mean 0, the same spread
            u = rng.random()
            test.add(1.0 if u < spread * spread / 2 else (-1.0 if u < spread * spread else 0.0))
        n = 0
        while n < limit:
            n += 1
            u = rng.random()
            if test.add(1.0 if u < up else (-1.0 if u < up + down else 0.0)):
                break
        delays.append(n)
    delays.sort()
    return delays[(3 * len(delays)) // 4]


@dataclass(frozen=True, slots=True)
class WatchSnapshot:
    """One phase's live figures, for `phaseroute drift`, the dashboard and metrics."""

    pairs: int
    gap: float | None  # mean difference over the trailing window
    lower: float | None  # interval of the gap over the trailing window (fixed-sample)
    upper: float | None
    margin: float
    state: DriftState
    alarm_at: int | None  # the pair at which the drift test rejected


class PhaseWatch:
    """The drift test of one phase's shadow pairs, and its recent window for display."""

    def __init__(self, *, margin: float, alpha: float, window: int = WINDOW) -> None:
        self.test = DriftTest(margin=margin, alpha=alpha, window=window)
        self.margin = margin
        self._top: deque[float] = deque(maxlen=window)
        self._routed: deque[float] = deque(maxlen=window)

    def add(self, top: float, routed: float) -> bool:
        """Add one pair's scores (0..1); True when this pair raised the alarm (only once)."""
        before = self.test.rejected_at
        self.test.add(top - routed)
        self._top.append(top)
        self._routed.append(routed)
        return before is None and self.test.rejected_at is not None

    def snapshot(self) -> WatchSnapshot:
        """The figures now. The interval is the measurement harness's fixed-sample interval
        (90%) over the trailing window — what the gap is lately; the alarm is the drift
        test's, which is valid however often it is looked at."""
        lower = upper = None
        if len(self._top) >= MIN_WINDOW:
            verdict = compare_paired(list(self._top), list(self._routed), margin=self.margin)
            lower, upper = verdict.estimate.lower, verdict.estimate.upper
        if self.test.rejected_at is not None:
            state = DriftState.drifted
        elif upper is not None and upper <= self.margin:
            state = DriftState.holding
        else:
            state = DriftState.watching
        return WatchSnapshot(
            self.test.n,
            self.test.window_gap,
            lower,
            upper,
            self.margin,
            state,
            self.test.rejected_at,
        )
