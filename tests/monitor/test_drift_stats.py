"""The drift test's two promises, by simulation: no false alarm beyond its error rate over
10,000 pairs without drift, and an alarm within the predicted number of pairs after one."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from scipy.stats import binom

from phaseroute.monitor import DriftState, DriftTest, PhaseWatch, predicted_pairs


def _pair(rng: random.Random, p_top: float, p_routed: float) -> float:
    return float(rng.random() < p_top) - float(rng.random() < p_routed)


@pytest.mark.parametrize(("p_top", "p_routed"), [(0.8, 0.75), (0.6, 0.55), (0.9, 0.9)])
def test_no_false_alarm_beyond_alpha_over_10000_pairs(p_top: float, p_routed: float) -> None:
    # The gap is at (or within) the margin for all 10,000 pairs: the null holds throughout.
    alpha, runs, margin = 0.05, 60, 0.05
    rng = random.Random(11)
    alarms = 0
    for _ in range(runs):
        test = DriftTest(margin=margin, alpha=alpha)
        for _ in range(10_000):
            if test.add(_pair(rng, p_top, p_routed)):
                alarms += 1
                break
    # Ville: P(ever alarm) <= alpha. Allow binomial sampling error at the 0.001 level.
    assert alarms <= binom.ppf(0.999, runs, alpha)


@pytest.mark.parametrize(("healthy", "drifted", "margin"), [(0.79, 0.6, 0.05), (0.795, 0.65, 0.02)])
def test_alarm_within_the_predicted_pairs_after_drift(
    healthy: float, drifted: float, margin: float
) -> None:
    alpha, p_top = 0.01, 0.8
    rng = random.Random(5)
    gap = p_top - drifted
    spread = math.sqrt(p_top * (1 - p_top) + drifted * (1 - drifted))
    predicted = predicted_pairs(gap=gap, spread=spread, margin=margin, alpha=alpha)
    delays = []
    for _ in range(40):
        test = DriftTest(margin=margin, alpha=alpha)
        for _ in range(3000):  # a long healthy history first
            assert not test.add(_pair(rng, p_top, healthy))
        for n in range(1, 50 * predicted):
            if test.add(_pair(rng, p_top, drifted)):
                delays.append(n)
                break
    assert len(delays) == 40, "every drift is detected"
    assert statistics.median(delays) <= predicted
    assert sorted(delays)[int(0.9 * len(delays))] <= 2 * predicted


def test_watch_states_and_a_single_alarm() -> None:
    watch = PhaseWatch(margin=0.05, alpha=0.05)
    assert watch.snapshot().state is DriftState.watching
    assert watch.snapshot().gap is None
    for _ in range(2000):
        assert not watch.add(1.0, 1.0)
    assert watch.snapshot().state is DriftState.holding  # upper bound within the margin
    raised = [watch.add(1.0, 0.0) for _ in range(300)]
    assert raised.count(True) == 1
    snap = watch.snapshot()
    assert snap.state is DriftState.drifted
    assert snap.alarm_at is not None
    assert snap.alarm_at > 2000
    assert snap.gap is not None
    assert snap.gap > 0.05


@pytest.mark.parametrize("bad", [1.5, -1.01, math.nan])
def test_out_of_range_difference_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="difference"):
        DriftTest(margin=0.05, alpha=0.05).add(bad)


def test_prediction_refuses_a_gap_within_the_margin() -> None:
    with pytest.raises(ValueError, match="not drift"):
        predicted_pairs(gap=0.01, spread=0.5, margin=0.05, alpha=0.05)
