"""Error control by simulation: wrongly routing cheap happens at most at the nominal rate.

Each simulated phase draws paired 0/1 scores with a chosen true gap. The assertion allows
binomial noise: with 1,000 phases and a true error rate of exactly 5%, more than 74 false
claims has probability below 0.1% (``binom.ppf(0.999, 1000, 0.05) = 73``), so the test
fails only when the procedure's real error rate is above nominal. A naive procedure that
peeks at a fixed-sample test after every batch is run on the same phases to show the
simulation would catch a procedure that does not control its error.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from phaseroute.measure import SequentialComparison, compare_paired
from phaseroute.measure._stats_intervals import tango_z

PHASES = 1000
ALPHA = 0.05
LIMIT = int(stats.binom.ppf(0.999, PHASES, ALPHA)) + 1  # 74


def phases(count: int, n: int, gap: float, discordance: float, seed: int) -> np.ndarray:
    """Per phase and item, the paired difference reference - candidate in {-1, 0, 1}."""
    u = np.random.default_rng(seed).random((count, n))
    ref_only = (discordance + gap) / 2
    return np.where(u < ref_only, 1.0, np.where(u < discordance, -1.0, 0.0))


def split(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (d > 0).astype(float), (d < 0).astype(float)


def test_sequential_test_wrongly_routes_cheap_at_most_at_alpha() -> None:
    # the true gap sits exactly on the margin: the hardest phase for a non-inferiority claim
    margin, n = 0.05, 400
    false_claims, used = 0, []
    for d in phases(PHASES, n, gap=margin, discordance=0.25, seed=11):
        seq = SequentialComparison(margin=margin, alpha=ALPHA, max_items=n)
        seq.extend(*split(d))  # decided_at is the item at which a batch-by-batch run stops
        false_claims += seq.result().decision == "non_inferior"
        used.append(seq.decided_at or n)
    assert false_claims <= LIMIT
    assert np.median(used) < n  # it does stop early (for futility) on these phases

    # the same phases under a naive "peek after every batch of 20" fixed-sample test
    naive, z = 0, stats.norm.isf(ALPHA)
    for d in phases(PHASES, n, gap=margin, discordance=0.25, seed=11):
        b, c = np.cumsum(d > 0), np.cumsum(d < 0)
        naive += any(  # the Tango upper bound is below the margin exactly when z < -z_alpha
            tango_z(int(b[k - 1]), int(c[k - 1]), k, margin) < -z for k in range(20, n + 1, 20)
        )
    assert naive > LIMIT  # peeking without correction breaks the error rate


def test_fixed_sample_test_wrongly_routes_cheap_at_most_at_alpha() -> None:
    margin, n = 0.02, 300
    false_claims = 0
    for d in phases(PHASES, n, gap=margin + 0.005, discordance=0.2, seed=12):
        false_claims += compare_paired(*split(d), margin=margin).decision == "non_inferior"
    assert false_claims <= LIMIT


def test_sequential_test_has_power_when_the_models_are_equal() -> None:
    margin, n, count = 0.1, 600, 200
    claims, used = 0, []
    for d in phases(count, n, gap=0.0, discordance=0.2, seed=13):
        seq = SequentialComparison(margin=margin, alpha=ALPHA, max_items=n)
        seq.extend(*split(d))
        claims += seq.result().decision == "non_inferior"
        used.append(seq.decided_at or n)
    assert claims >= 0.9 * count
    assert np.median(used) < n / 2
