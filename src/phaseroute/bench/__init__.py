"""The replay benchmark: phase routing by measurement against uniform, intuition, random and
oracle routing, and certified per-item routing against a RouteLLM-style threshold, on any
recorded-outcome file, decided on calibration items and reported on held-out ones over
repeated seeded splits."""

from __future__ import annotations

from phaseroute.bench._data import (
    BenchData,
    ModelInfo,
    PricingOptions,
    load_bench_data,
    parse_price,
)
from phaseroute.bench._evaluate import (
    CERTIFIED,
    CERTIFIED_WINDOW,
    CERTIFIED_WORKFLOW,
    ITEM_BASELINE,
    KINDS,
    MEASURED,
    ORACLE,
    RANDOM,
    UNIFORM_CHEAPEST,
    UNIFORM_TOP,
    BenchResult,
    BenchSettings,
    Outcome,
    PhaseReport,
    StrategyResult,
    run_bench,
)
from phaseroute.bench._floor import route_at_floor
from phaseroute.bench._kinds import read_kinds
from phaseroute.bench._plot import BenchPlot, plot_bench
from phaseroute.bench._render import as_json, markdown
from phaseroute.bench._routing import FloorBound, PhaseRouting
from phaseroute.bench._split import Split, split_items
from phaseroute.bench._strategies import (
    route_by_kinds,
    route_by_margin,
    route_oracle,
    route_randomly,
)

__all__ = [
    "CERTIFIED",
    "CERTIFIED_WINDOW",
    "CERTIFIED_WORKFLOW",
    "ITEM_BASELINE",
    "KINDS",
    "MEASURED",
    "ORACLE",
    "RANDOM",
    "UNIFORM_CHEAPEST",
    "UNIFORM_TOP",
    "BenchData",
    "BenchPlot",
    "BenchResult",
    "BenchSettings",
    "FloorBound",
    "ModelInfo",
    "Outcome",
    "PhaseReport",
    "PhaseRouting",
    "PricingOptions",
    "Split",
    "StrategyResult",
    "as_json",
    "load_bench_data",
    "markdown",
    "parse_price",
    "plot_bench",
    "read_kinds",
    "route_at_floor",
    "route_by_kinds",
    "route_by_margin",
    "route_oracle",
    "route_randomly",
    "run_bench",
    "split_items",
]
