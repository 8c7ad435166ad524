"""The benchmark's parts: splits, the oracle, random routing, prices, the floor's bound."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_bench_files import write_outcomes

from phaseroute.bench import (
    BenchSettings,
    load_bench_data,
    parse_price,
    route_at_floor,
    route_oracle,
    route_randomly,
    split_items,
)
from phaseroute.errors import RequestError


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8),
    fraction=st.floats(min_value=0.05, max_value=0.95),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_split_is_a_stratified_seeded_partition(
    sizes: list[int], fraction: float, seed: int
) -> None:
    phase_of = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    s = split_items(phase_of, fraction, seed)
    both = np.concatenate([s.calibration, s.holdout])
    assert sorted(both.tolist()) == list(range(phase_of.size))
    for p, n in enumerate(sizes):
        cal = int(np.count_nonzero(phase_of[s.calibration] == p))
        if n >= 2:
            assert 1 <= cal <= n - 1
            assert abs(cal - fraction * n) <= 1.0  # rounding, or the clamp to [1, n - 1]
        else:
            assert cal == 0
    again = split_items(phase_of, fraction, seed)
    assert np.array_equal(again.calibration, s.calibration)


def test_different_seeds_give_different_splits() -> None:
    phase_of = np.zeros(200, dtype=np.int64)
    a, b = split_items(phase_of, 0.5, 0), split_items(phase_of, 0.5, 1)
    assert not np.array_equal(a.calibration, b.calibration)


def test_oracle_takes_the_cheapest_model_at_least_as_good_as_the_reference() -> None:
    scores = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    costs = np.array([[1.0, 2.0, 3.0]] * 4)
    assert route_oracle(scores, costs, reference=2).tolist() == [0, 1, 2, 0]
    # per-item costs decide, not the global order
    costs[0] = [5.0, 2.0, 3.0]
    assert route_oracle(scores, costs, reference=2).tolist()[0] == 1


def test_random_routing_keeps_the_mix_and_the_seed() -> None:
    like = np.array([0] * 30 + [1] * 70, dtype=np.int64)
    a = route_randomly(like, 3)
    assert np.bincount(a).tolist() == [30, 70]
    assert not np.array_equal(a, like)
    assert np.array_equal(a, route_randomly(like, 3))


def test_price_parsing() -> None:
    name, price = parse_price("org/model=0.25:1.5")
    assert name == "org/model"
    assert (price.input_per_mtok, price.output_per_mtok) == (Decimal("0.25"), Decimal("1.5"))
    for bad in ("model", "model=1", "=1:2", "model=1:-2", "model=a:b"):
        with pytest.raises(RequestError):
            parse_price(bad)


def test_floor_bound_fits_the_budget_and_a_floor_of_one_moves_nothing_that_loses(
    tmp_path: Path,
) -> None:
    phases = {
        f"p{i}": {"gpt-4o-mini": 0.85 - gap, "gpt-4o": 0.85}
        for i, gap in enumerate((0.0, 0.02, 0.05, 0.1, 0.2, 0.3))
    }
    data = load_bench_data(write_outcomes(tmp_path / "f.jsonl", phases, items_per_phase=200))
    cal = split_items(data.phase_of, 0.5, 0)
    served = np.bincount(data.phase_of[cal.holdout]).astype(np.int64)
    plan = route_at_floor(data, cal.calibration, floor=0.95, alpha=0.05, seed=0, served=served)
    assert plan.bound is not None
    assert plan.bound.upper <= plan.bound.budget
    assert plan.bound.predictive
    assert plan.bound.spread > 0
    assert plan.models[0] == 0
    assert plan.models[-1] == 1
    confidence = route_at_floor(data, cal.calibration, floor=0.95, alpha=0.05, seed=0)
    assert confidence.bound is not None
    assert not confidence.bound.predictive
    # a prediction bound is wider than a confidence bound: it never moves more phases
    assert sum(m == 0 for m in plan.models) <= sum(m == 0 for m in confidence.models)

    strict = route_at_floor(data, cal.calibration, floor=1.0, alpha=0.05, seed=0, served=served)
    assert strict.bound is not None
    assert strict.bound.budget == 0.0
    assert strict.bound.upper <= 0.0


def test_settings_reject_a_floor_outside_zero_one() -> None:
    with pytest.raises(RequestError, match=r"--floor 0 must be in \(0, 1\]"):
        BenchSettings(floor=0.0)
    assert BenchSettings(floor=1.0).floor == 1.0


def test_the_public_api_is_exactly_all() -> None:
    from phaseroute import bench

    assert len(bench.__all__) == len(set(bench.__all__))
    assert all(hasattr(bench, name) for name in bench.__all__)
    public = {n for n in vars(bench) if not n.startswith("_") and n != "annotations"}
    assert public <= set(bench.__all__)
