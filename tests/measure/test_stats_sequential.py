"""Sequential comparison: batching does not matter, decisions stick, early stops are honest."""

from __future__ import annotations

import numpy as np
import pytest

from phaseroute.errors import RequestError
from phaseroute.measure import SequentialComparison, compare_paired
from phaseroute.recorded import read_recorded

REFERENCE = "gpt-4-1106-preview"
CANDIDATE = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def stream(n: int, gap: float, discordance: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Paired 0/1 scores with a given true gap and rate of items where the models disagree."""
    u = np.random.default_rng(seed).random(n)
    ref_only = u < (discordance + gap) / 2
    cand_only = (u >= (discordance + gap) / 2) & (u < discordance)
    both = u >= 0.5 + discordance / 2
    return (ref_only | both).astype(float), (cand_only | both).astype(float)


def test_decision_point_does_not_depend_on_batch_size() -> None:
    ref, cand = stream(600, 0.15, 0.3, seed=4)
    at = set()
    for batch in (1, 7, 20, 600):
        seq = SequentialComparison(margin=0.02)
        for start in range(0, ref.size, batch):
            seq.extend(ref[start : start + batch], cand[start : start + batch])
        assert seq.decided
        at.add(seq.decided_at)
        assert seq.result().decision == "inferior"
    assert len(at) == 1


def test_decision_sticks_and_bounds_only_narrow() -> None:
    ref, cand = stream(800, 0.0, 0.1, seed=5)
    seq = SequentialComparison(margin=0.1)
    widths, decisions = [], []
    for start in range(0, ref.size, 25):
        seq.extend(ref[start : start + 25], cand[start : start + 25])
        est = seq.result().estimate
        widths.append(est.upper - est.lower)
        if seq.decided:
            decisions.append(seq.result().decision)
    assert widths == sorted(widths, reverse=True)
    assert decisions
    assert set(decisions) == {"non_inferior"}
    result = seq.result()
    assert result.stopped_early
    assert result.estimate.upper <= 0.1
    assert f"clear after {seq.decided_at} items" in result.explanation


def test_nothing_is_decided_before_min_items() -> None:
    seq = SequentialComparison(margin=0.02, min_items=40)
    seq.extend([1.0] * 39, [0.0] * 39)  # overwhelming, but too few items
    assert not seq.decided
    assert seq.result().decision == "inconclusive"
    assert "fewer than the 40 items" in seq.result().explanation
    seq.add(1.0, 0.0)
    assert seq.decided
    assert seq.decided_at == 40
    assert seq.result().decision == "inferior"


def test_futility_stops_an_unsettleable_comparison_as_inconclusive() -> None:
    ref, cand = stream(2000, 0.02, 0.3, seed=6)  # gap right on the margin
    seq = SequentialComparison(margin=0.02, max_items=2000)
    for start in range(0, 2000, 20):
        seq.extend(ref[start : start + 20], cand[start : start + 20])
        if seq.decided:
            break
    assert seq.decided
    assert seq.finished
    assert seq.decided_at is not None
    assert 400 <= seq.decided_at < 2000
    result = seq.result()
    assert result.decision == "inconclusive"
    assert result.stopped_early
    assert result.items_needed is not None
    assert result.items_needed > 0
    assert "would likely not settle it" in result.explanation
    # without max_items there is no futility stop: the same data stays open
    open_ended = SequentialComparison(margin=0.02)
    open_ended.extend(ref[: seq.decided_at], cand[: seq.decided_at])
    assert not open_ended.decided
    assert not open_ended.finished


def test_sequential_bounds_are_wider_than_fixed_sample_ones() -> None:
    # the price of being allowed to peek: the same items give a wider (but valid) interval
    ref, cand = stream(500, 0.05, 0.3, seed=7)
    seq = SequentialComparison(margin=0.02)
    seq.extend(ref, cand)
    fixed = compare_paired(ref, cand, margin=0.02).estimate
    sequential = seq.result().estimate
    assert sequential.gap == pytest.approx(fixed.gap)
    assert sequential.lower <= fixed.lower
    assert sequential.upper >= fixed.upper


def test_usage_errors_are_user_errors() -> None:
    with pytest.raises(RequestError, match="no items added"):
        SequentialComparison(margin=0.02).result()
    with pytest.raises(RequestError, match="min_items"):
        SequentialComparison(margin=0.02, min_items=50, max_items=10)
    with pytest.raises(RequestError, match="differ in length"):
        SequentialComparison(margin=0.02).extend([1.0], [])


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_mmlu_high_school_mathematics_is_flagged_even_when_stopping_early(
    mmlu_path,
    seed: int,  # type: ignore[no-untyped-def]
) -> None:
    items = read_recorded(mmlu_path).phases["high_school_mathematics"]
    order = np.random.default_rng(seed).permutation(len(items))
    seq = SequentialComparison(margin=0.02, max_items=len(items))
    for start in range(0, len(order), 20):
        batch = [items[i] for i in order[start : start + 20]]
        seq.extend([it.scores[REFERENCE] for it in batch], [it.scores[CANDIDATE] for it in batch])
        if seq.decided:
            break
    result = seq.result()
    assert result.stopped_early
    assert result.estimate.n < len(items)
    assert result.decision == "non_inferior"
    assert result.suspicious is not None
    assert not result.routes_cheap
