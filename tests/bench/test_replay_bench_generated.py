"""The benchmark on files it has never seen: other phases, 3–4 models, other score scales."""

from __future__ import annotations

from pathlib import Path

import pytest
from replay_bench_files import write_outcomes

from phaseroute.bench import (
    KINDS,
    MEASURED,
    ORACLE,
    RANDOM,
    UNIFORM_CHEAPEST,
    UNIFORM_TOP,
    BenchSettings,
    PricingOptions,
    load_bench_data,
    parse_price,
    run_bench,
)
from phaseroute.policy import Kind

MINI, HAIKU, TOP = "gpt-4o-mini", "claude-3-5-haiku-latest", "gpt-4o"
THREE = {
    "intake_triage": {MINI: 0.85, HAIKU: 0.85, TOP: 0.85},
    "entity_lookup": {MINI: 0.85, HAIKU: 0.85, TOP: 0.85},
    "sar_drafting": {MINI: 0.55, HAIKU: 0.85, TOP: 0.85},
    "typology_call": {MINI: 0.50, HAIKU: 0.60, TOP: 0.85},
}


@pytest.mark.parametrize("scale", ["judge", "fraction"])
def test_three_priced_models_each_phase_gets_its_cheapest_adequate_model(
    tmp_path: Path, scale: str
) -> None:
    path = write_outcomes(tmp_path / "aml.jsonl", THREE, scale=scale, responses=True)
    data = load_bench_data(path)
    assert data.names == (MINI, HAIKU, TOP)  # cost order from the catalogue
    assert data.priced
    assert data.models[data.reference].name == TOP
    assert "answer texts" in data.token_rule  # every answer recorded: output tokens counted
    assert data.scores.min() >= 0.0
    assert data.scores.max() <= 1.0

    result = run_bench(data, BenchSettings(floor=0.95, repeats=3))
    routes = {p.phase: p.measured_routes for p in result.phases}
    assert routes["intake_triage"] == (3, 0, 0)
    assert routes["entity_lookup"] == (3, 0, 0)
    assert routes["sar_drafting"] == (0, 3, 0)  # the cheapest is too weak, the middle is not
    assert routes["typology_call"] == (0, 0, 3)

    measured = result.strategy(MEASURED)
    assert measured.floor_held(0.95) == 3
    saving = measured.spread("saving")
    assert saving is not None
    assert saving[2] > 0.4
    top = result.strategy(UNIFORM_TOP).spread("ratio")
    assert top == (1.0, 0.0, 1.0)
    cheapest = result.strategy(UNIFORM_CHEAPEST).spread("ratio")
    assert cheapest is not None
    assert cheapest[0] < 0.9
    oracle = result.strategy(ORACLE).spread("ratio")
    assert oracle is not None
    assert oracle[2] >= 1.0
    assert result.strategy(RANDOM).spread("top_share") == measured.spread("top_share")
    assert not result.strategy(KINDS).ran


def test_four_models_with_prices_from_the_command_line_and_binary_scores(tmp_path: Path) -> None:
    models = ["tiny-v1", "small-v2", "medium-v3", "large-v4"]
    phases = {
        "screen": dict(zip(models, (0.9, 0.9, 0.9, 0.9), strict=True)),
        "extract": dict(zip(models, (0.45, 0.9, 0.9, 0.9), strict=True)),
        "judge": dict(zip(models, (0.3, 0.35, 0.4, 0.9), strict=True)),
    }
    path = write_outcomes(tmp_path / "four.jsonl", phases, items_per_phase=600, seed=3)
    prices = dict(
        parse_price(p)
        for p in ("tiny-v1=0.1:0.2", "small-v2=1:2", "medium-v3=3:6", "large-v4=15:60")
    )
    data = load_bench_data(path, PricingOptions(prices=prices))
    assert data.names == tuple(models)
    result = run_bench(data, BenchSettings(floor=0.9, repeats=2, seed=11))
    routes = {p.phase: p.measured_routes for p in result.phases}
    assert routes["screen"] == (2, 0, 0, 0)
    assert routes["extract"][0] == 0  # never the model that fails extraction
    assert routes["judge"] == (0, 0, 0, 2)
    assert result.strategy(MEASURED).floor_held(0.9) == 2


def test_unpriced_models_are_named_and_costs_reported_unknown(tmp_path: Path) -> None:
    phases = {
        "alpha": {"house-small": 0.8, "house-large": 0.85},
        "beta": {"house-small": 0.3, "house-large": 0.9},
    }
    path = write_outcomes(tmp_path / "house.jsonl", phases, scale="judge", items_per_phase=200)
    data = load_bench_data(path)
    assert not data.priced
    assert any("no price for house-small, house-large" in n for n in data.notes)
    assert data.names == ("house-small", "house-large")  # assumed: better scores cost more
    result = run_bench(data, BenchSettings(repeats=2))
    measured = result.strategy(MEASURED)
    assert measured.spread("saving") is None  # unknown, not invented
    assert all(o.cost is None for o in measured.outcomes)
    assert measured.spread("top_share") is not None

    ordered = load_bench_data(path, PricingOptions(order=("house-large", "house-small")))
    assert ordered.names == ("house-large", "house-small")
    assert not any("no price" in n for n in ordered.notes)


def test_a_nominal_scale_changes_normalisation_and_a_reference_can_be_forced(
    tmp_path: Path,
) -> None:
    phases = {"only": {MINI: 0.6, TOP: 0.7}, "other": {MINI: 0.6, TOP: 0.65}}
    path = write_outcomes(tmp_path / "judge.jsonl", phases, scale="judge", items_per_phase=100)
    observed = load_bench_data(path)
    nominal = load_bench_data(path, PricingOptions(scale=(1.0, 10.0), reference=MINI))
    assert "min-max" in observed.scale_rule
    assert "nominal scale 1..10" in nominal.scale_rule
    low, high = observed.scale
    raw = observed.scores * (high - low) + low
    assert nominal.scores == pytest.approx((raw - 1.0) / 9.0)
    assert nominal.models[nominal.reference].name == MINI
    result = run_bench(nominal, BenchSettings(repeats=1))
    assert any("also the cheapest" in n for n in result.notes)
    assert result.strategy(MEASURED).spread("saving") == (0.0, 0.0, 0.0)


def test_kind_defaults_route_deep_kinds_to_the_reference(tmp_path: Path) -> None:
    path = write_outcomes(tmp_path / "k.jsonl", THREE, scale="fraction", items_per_phase=60)
    data = load_bench_data(path)
    kinds = {"intake_triage": Kind.screening, "typology_call": Kind.judgment}
    result = run_bench(data, BenchSettings(repeats=1, kinds=kinds, kinds_source="k.yaml"))
    share = result.strategy(KINDS).spread("top_share")
    assert share is not None
    # intake goes cheap; typology, and the two phases the mapping leaves out, stay on top
    assert share[0] == pytest.approx(0.75, abs=0.02)
    assert any("not in the kinds mapping" in n for n in result.notes)
