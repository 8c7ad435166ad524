"""The harness on synthetic paired scores: cheapest non-inferior wins, honest small samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from measure_fixtures import Scores, bernoulli, two_tiers, write_policy

from phaseroute.measure import MeasureSettings, PhaseTask, measure_phase
from phaseroute.policy import DatasetRef, compile_policy, load_policy

DATASET = DatasetRef(kind="labelled", path="d.jsonl", sha256="0" * 64, items=0)


def three_tiers() -> dict[str, Any]:
    data = two_tiers()
    data["tiers"] = ["cheap", "mid", "top"]
    data["models"] = {
        "small": {"provider": "p", "id": "claude-haiku-5-5", "tier": "cheap"},
        "medium": {"provider": "p", "id": "claude-sonnet-5-5", "tier": "mid"},
        "large": {"provider": "p", "id": "claude-opus-5-5", "tier": "top"},
    }
    return data


def run(tmp_path: Path, data: dict[str, Any], scores: Scores, phase: str = "screen"):  # type: ignore[no-untyped-def]
    loaded = load_policy(write_policy(tmp_path / "policy.yaml", data))
    plan = compile_policy(loaded)
    task = PhaseTask("wf", phase, scores, DATASET)
    return measure_phase(task, plan, loaded, MeasureSettings(alpha=0.05, seed=1, batch_size=20))


def test_identical_models_route_cheap_and_stop_early(tmp_path: Path) -> None:
    same = bernoulli(0.9, 3000, 1)
    scores = Scores({"large": same, "small": same})
    result = run(tmp_path, two_tiers(), scores)
    entry = result.entry
    assert entry.outcome == "non_inferior"
    assert entry.chosen == "small"
    (c,) = entry.comparisons
    assert c.decision == "non_inferior"
    assert c.gap.upper <= entry.margin
    assert c.stopped_early
    assert result.items_used < 3000
    assert scores.asked["large"] == result.items_used
    assert "non-inferior" in entry.summary
    assert "The cheapest non-inferior model, small, is used." in entry.summary


def test_a_clearly_worse_model_is_inferior_and_the_top_tier_stays(tmp_path: Path) -> None:
    scores = Scores({"large": bernoulli(0.95, 2000, 2), "small": bernoulli(0.6, 2000, 3)})
    entry = run(tmp_path, two_tiers(), scores).entry
    assert entry.outcome == "inferior"
    assert entry.chosen == "large"
    assert entry.comparisons[0].gap.lower >= entry.margin
    assert "not good enough" in entry.summary


def test_a_small_sample_is_inconclusive_and_says_how_many_more_items(tmp_path: Path) -> None:
    scores = Scores({"large": bernoulli(0.9, 30, 4), "small": bernoulli(0.88, 30, 5)})
    result = run(tmp_path, two_tiers(), scores)
    entry = result.entry
    assert entry.outcome == "inconclusive"
    assert entry.chosen == "large"
    (c,) = entry.comparisons
    assert c.n == 30
    assert not c.stopped_early
    assert c.items_needed is not None
    assert c.items_needed > 0
    assert f"about {c.items_needed} more items" in entry.summary


def test_a_cheap_model_far_better_than_the_top_tier_is_suspicious(tmp_path: Path) -> None:
    scores = Scores({"large": [0.0] * 200, "small": bernoulli(0.5, 200, 6)})
    entry = run(tmp_path, two_tiers(), scores).entry
    assert entry.outcome == "suspicious"
    assert entry.chosen == "large"
    assert entry.comparisons[0].suspicious


def test_three_tiers_choose_the_cheapest_non_inferior(tmp_path: Path) -> None:
    top = bernoulli(0.9, 3000, 7)
    scores = Scores({"large": top, "medium": top, "small": top})
    entry = run(tmp_path, three_tiers(), scores).entry
    assert entry.chosen == "small"
    assert [c.candidate.model for c in entry.comparisons] == ["small", "medium"]


def test_three_tiers_stop_below_the_first_failure(tmp_path: Path) -> None:
    top = bernoulli(0.95, 3000, 8)
    scores = Scores({"large": top, "medium": bernoulli(0.6, 3000, 9), "small": top})
    entry = run(tmp_path, three_tiers(), scores).entry
    # fixed-sequence testing from the most expensive down: mid fails, so cheap is not tried
    assert entry.chosen == "large"
    assert [c.candidate.model for c in entry.comparisons] == ["medium"]
    assert scores.asked["small"] == 0
    assert entry.outcome == "inferior"


def test_the_item_order_is_seeded(tmp_path: Path) -> None:
    scores = Scores({"large": bernoulli(0.9, 500, 10), "small": bernoulli(0.85, 500, 11)})
    a = run(tmp_path, two_tiers(), scores).entry
    b = run(tmp_path, two_tiers(), scores).entry
    assert a.comparisons == b.comparisons


@pytest.mark.parametrize("phase", ["screen", "triage"])
def test_the_lock_entry_records_the_phase_settings(tmp_path: Path, phase: str) -> None:
    same = bernoulli(0.9, 200, 12)
    entry = run(tmp_path, two_tiers(), Scores({"large": same, "small": same}), phase).entry
    assert entry.metric == ("accuracy" if phase == "screen" else "recall")
    assert entry.margin == 0.05
    assert entry.seed == 1
    assert entry.reference == "large"
