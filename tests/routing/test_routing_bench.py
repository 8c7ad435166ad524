"""The benchmark's per-item strategies on generated files of other shapes: more than two
models, 1–10 judge and fractional scores; the guarantee check is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from routing_data import write_recorded

from phaseroute.bench import (
    CERTIFIED,
    CERTIFIED_WINDOW,
    CERTIFIED_WORKFLOW,
    ITEM_BASELINE,
    BenchSettings,
    PricingOptions,
    as_json,
    load_bench_data,
    markdown,
    run_bench,
)
from phaseroute.costs import CustomPrice

MODELS = ["m-small", "m-mid", "m-large"]
PRICES = {
    "m-small": CustomPrice(1, 2),
    "m-mid": CustomPrice(3, 6),
    "m-large": CustomPrice(15, 30),
}


@pytest.mark.parametrize("scale", ["judge", "fraction"])
def test_per_item_strategies_run_and_report_their_guarantee_check(
    tmp_path: Path, scale: str
) -> None:
    path = write_recorded(tmp_path / "gen.jsonl", {"a": 500, "b": 500}, MODELS, scale=scale, seed=5)
    data = load_bench_data(
        path, PricingOptions(prices=PRICES, scale=(1, 10) if scale == "judge" else None)
    )
    result = run_bench(data, BenchSettings(floor=0.95, repeats=3, max_loss=0.05, delta=0.1))
    for key in (CERTIFIED, CERTIFIED_WORKFLOW, CERTIFIED_WINDOW, ITEM_BASELINE):
        strategy = result.strategy(key)
        assert strategy.ran
        assert strategy.exceeded is not None
        assert strategy.exceeded[1] == 2 * 3  # two phases × three splits
    certified = result.strategy(CERTIFIED_WORKFLOW)
    saving = certified.spread("saving")
    assert saving is not None
    assert saving[0] > 0.1  # the easy items do go cheap
    assert certified.floor_held(0.95) >= 2
    assert "Per-phase guarantee check" in markdown(result)
    rows = {s["key"]: s for s in as_json(result)["strategies"]}
    assert rows[CERTIFIED]["phase_loss_exceeded"]["of"] == 6


def test_the_per_item_strategies_can_be_left_out(tmp_path: Path) -> None:
    path = write_recorded(tmp_path / "gen.jsonl", {"a": 200}, MODELS[:2], seed=6)
    data = load_bench_data(path, PricingOptions(prices={m: PRICES[m] for m in MODELS[:2]}))
    result = run_bench(data, BenchSettings(floor=0.95, repeats=1, per_item=False))
    assert not result.strategy(CERTIFIED).ran
    assert result.strategy(CERTIFIED).not_run is not None
