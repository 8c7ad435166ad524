"""Live measurement through the router: accounted calls, cached answers, judge calls too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from measure_fixtures import two_tiers, write_jsonl, write_policy

from phaseroute.measure import (
    CachedCaller,
    MeasureSettings,
    ResponseCache,
    RouterCaller,
    cache_key,
    live_tasks,
    run_measurement,
    select_phases,
)
from phaseroute.policy import compile_policy, load_policy
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Message, Usage
from phaseroute.runtime import Router
from phaseroute.storage.database import open_engine
from phaseroute.testing.fake import FakeProvider

N = 80


def labels(i: int) -> str:
    return "risk" if i % 3 == 0 else "clear"


def answer(request: CompletionRequest) -> str:
    """Both models answer the label right, except the cheap one on every 40th case."""
    if request.system and "grade" in request.system:
        return "SCORE: 5"
    i = int(request.messages[-1].content.split()[-1])
    right = labels(i)
    if request.model == "claude-haiku-5-5" and i % 40 == 39:
        return "clear" if right == "risk" else "risk"
    return right


def setup(tmp_path: Path, data: dict[str, Any] | None = None) -> tuple[Path, Path]:
    policy = write_policy(tmp_path / "policy.yaml", data or two_tiers())
    rows = [{"id": f"c{i}", "prompt": f"case {i}", "label": labels(i)} for i in range(N)]
    write_jsonl(tmp_path / "data" / "wf" / "screen.jsonl", rows)
    # a different system prompt: otherwise triage's requests would be screen's, from the cache
    write_jsonl(
        tmp_path / "data" / "wf" / "triage.jsonl", [{**r, "system": "triage"} for r in rows]
    )
    return policy, tmp_path / "data"


def measure_once(policy: Path, data: Path, db: Path, phase: str | None = None):  # type: ignore[no-untyped-def]
    fake = FakeProvider("p", reply=answer)
    loaded = load_policy(policy)
    plan = compile_policy(loaded)
    engine = open_engine(db)
    try:
        with Router.from_policy(policy, providers={"p": fake}, database=db) as router:
            caller = CachedCaller(RouterCaller(router), ResponseCache(engine))
            tasks, skipped = live_tasks(
                loaded, plan, caller, select_phases(plan, "wf", phase), data
            )
            run = run_measurement(tasks, plan, loaded, MeasureSettings(batch_size=10))
            assert router.ledger is not None
            router.ledger.flush()
            totals = router.ledger.totals(workflow="measure")
    finally:
        engine.dispose()
    return run, fake, caller, totals, skipped


def test_live_measurement_calls_through_the_router_and_scores(tmp_path: Path) -> None:
    policy, data = setup(tmp_path)
    run, fake, caller, totals, skipped = measure_once(policy, data, tmp_path / "p.db")
    assert not skipped
    by_phase = {r.phase: r for r in run.results}
    screen = by_phase["screen"].entry
    (c,) = screen.comparisons
    # 80 items cannot settle a 5-point margin: inconclusive, possibly stopped for futility
    assert c.n <= N
    assert c.decision == "inconclusive"
    assert c.items_needed is not None
    assert c.items_needed > N - c.n
    # the cheap model got 2 of the 80 items wrong
    assert c.candidate.value.estimate >= 1 - 2 / c.n
    assert c.reference.value.estimate == 1.0
    # recall is measured on the positive items only (every third case is "risk")
    triage = by_phase["triage"].entry
    assert triage.dataset.items == len([i for i in range(N) if labels(i) == "risk"])
    assert triage.metric == "recall"
    # every call went through the router and was accounted under workflow "measure"
    assert len(fake.requests) == caller.misses
    assert {t.phase for t in totals} == {"wf/screen", "wf/triage"}
    assert sum(t.calls for t in totals) == len(fake.requests)


def test_rerunning_a_live_measurement_costs_no_model_calls(tmp_path: Path) -> None:
    policy, data = setup(tmp_path)
    db = tmp_path / "p.db"
    first, fake1, caller1, _, _ = measure_once(policy, data, db)
    assert len(fake1.requests) > 0
    second, fake2, caller2, _, _ = measure_once(policy, data, db)
    assert fake2.requests == []
    assert (caller2.hits, caller2.misses) == (caller1.misses + caller1.hits, 0)
    assert [r.entry.comparisons for r in first.results] == [
        r.entry.comparisons for r in second.results
    ]


def test_judge_calls_are_routed_and_accounted(tmp_path: Path) -> None:
    data = two_tiers()
    data["workflows"]["wf"]["phases"]["screen"]["quality"] = {
        "metric": "score",
        "margin": 0.05,
        "scorer": {"type": "judge", "rubric": "Is the label right?", "scale": 5},
    }
    policy, data_dir = setup(tmp_path, data)
    run, fake, _, totals, _ = measure_once(policy, data_dir, tmp_path / "p.db", phase="screen")
    (c,) = run.results[0].entry.comparisons
    assert c.reference.value.estimate == 1.0  # the judge gave 5/5 to everything
    judge_calls = [r for r in fake.requests if r.system and "grade" in r.system]
    # one judge call per distinct answer: where both models answered alike, the second
    # grading request is the first one again and comes from the cache
    assert len(judge_calls) == c.n + len([i for i in range(N) if i % 40 == 39])
    assert {r.model for r in judge_calls} == {"claude-opus-5-5"}  # the top tier judges
    judged = next(t for t in totals if t.phase == "wf/screen:judge")
    assert judged.calls == len(judge_calls)


def test_phases_without_a_dataset_are_skipped_with_the_reason(tmp_path: Path) -> None:
    policy, data = setup(tmp_path)
    (data / "wf" / "triage.jsonl").unlink()
    run, _, _, _, skipped = measure_once(policy, data, tmp_path / "p.db")
    assert [r.phase for r in run.results] == ["screen"]
    assert skipped[0][:2] == ("wf", "triage")
    assert "no dataset" in skipped[0][2]


def test_the_cache_key_covers_everything_sent() -> None:
    base = CompletionRequest(model="m", messages=(Message("user", "hi"),), temperature=0.0)
    variants = [
        CompletionRequest(model="m2", messages=base.messages, temperature=0.0),
        CompletionRequest(model="m", messages=(Message("user", "hi!"),), temperature=0.0),
        CompletionRequest(model="m", messages=base.messages, temperature=0.5),
        CompletionRequest(model="m", messages=base.messages, temperature=0.0, system="s"),
        CompletionRequest(model="m", messages=base.messages, temperature=0.0, max_tokens=5),
    ]
    keys = {cache_key(base)} | {cache_key(v) for v in variants}
    assert len(keys) == 1 + len(variants)
    same = CompletionRequest(model="m", messages=(Message("user", "hi"),), temperature=0.0)
    assert cache_key(same) == cache_key(base)


@pytest.mark.postgres
def test_the_cache_works_on_postgresql(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    try:
        cache = ResponseCache(engine)
        ResponseCache(engine)  # migrating twice is harmless
        response = CompletionResponse("yes", "m", "m-2024", "p", Usage(3, 1), stop_reason="end")
        cache.put("k" * 64, response)
        cache.put("k" * 64, response)  # a second writer of the same key is not an error
        assert cache.get("k" * 64) == response
        assert cache.get("z" * 64) is None
    finally:
        engine.dispose()
