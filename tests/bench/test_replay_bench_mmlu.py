"""The benchmark on the recorded MMLU outcomes: every strategy runs, the defect is surfaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseroute.bench import (
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
    load_bench_data,
    read_kinds,
    run_bench,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result(mmlu_path: Path) -> BenchResult:
    kinds = read_kinds(ROOT / "examples" / "mmlu" / "kinds.yaml")
    settings = BenchSettings(floor=0.95, repeats=2, kinds=kinds, kinds_source="kinds.yaml")
    return run_bench(load_bench_data(mmlu_path), settings)


def test_every_strategy_runs_with_the_strong_model_as_reference(result: BenchResult) -> None:
    data = result.data
    assert data.models[data.reference].name == "gpt-4-1106-preview"
    assert data.models[data.cheapest].name == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    keys = [s.key for s in result.strategies]
    assert keys == [
        UNIFORM_TOP,
        UNIFORM_CHEAPEST,
        MEASURED,
        KINDS,
        RANDOM,
        ORACLE,
        CERTIFIED,
        CERTIFIED_WORKFLOW,
        CERTIFIED_WINDOW,
        ITEM_BASELINE,
    ]
    assert all(s.ran and len(s.outcomes) == 2 for s in result.strategies)
    assert len(data.phases) == 57


def test_measured_routing_holds_the_floor_and_beats_random_at_the_same_share(
    result: BenchResult,
) -> None:
    measured = result.strategy(MEASURED)
    random = result.strategy(RANDOM)
    assert measured.floor_held(0.95) == 2
    assert measured.spread("top_share") == random.spread("top_share")
    m_saving, r_saving = measured.spread("saving"), random.spread("saving")
    assert m_saving is not None
    assert r_saving is not None
    assert m_saving[0] > r_saving[0]
    cheapest = result.strategy(UNIFORM_CHEAPEST).spread("ratio")
    assert cheapest is not None
    assert cheapest[0] < 0.9
    oracle = result.strategy(ORACLE).spread("ratio")
    assert oracle is not None
    assert oracle[2] > 1.0


def test_the_extraction_defect_is_surfaced_and_never_routed_on(result: BenchResult) -> None:
    suspicious = {p.phase: p for p in result.phases if p.suspicious}
    assert set(suspicious) == {"high_school_mathematics"}
    hsm = suspicious["high_school_mathematics"]
    assert "answer extraction" in (hsm.suspicious or "")
    assert hsm.measured_routes == (0, 2)  # stays on the reference in every repeat
    assert hsm.mean_scores[1] < 0.05
