"""The replay provider on the shared MMLU recording and on a three-model, 1-10 scored file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from phaseroute.errors import InvalidProviderRequest
from phaseroute.providers import (
    SCORE_ONLY_TEXT,
    CompletionRequest,
    Message,
    Provider,
    ReplayProvider,
    StreamEnd,
    TextDelta,
    approximate_tokens,
)
from phaseroute.providers._replay import UNRECORDED_OUTPUT_TOKENS
from phaseroute.recorded import RecordedOutcomes, read_recorded

STRONG = "gpt-4-1106-preview"
CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"


@pytest.fixture(scope="module")
def mmlu(mmlu_path: Path) -> RecordedOutcomes:
    return read_recorded(mmlu_path)


@pytest.fixture(scope="module")
def replay(mmlu: RecordedOutcomes) -> ReplayProvider:
    return ReplayProvider(mmlu)


def by_item(model: str, item: str) -> CompletionRequest:
    return CompletionRequest(
        model=model, messages=(Message("user", "ignored"),), metadata={"item": item}
    )


def by_prompt(model: str, prompt: str) -> CompletionRequest:
    return CompletionRequest(model=model, messages=(Message("user", prompt),))


def test_replays_every_mmlu_item_for_both_models(
    mmlu: RecordedOutcomes, replay: ReplayProvider
) -> None:
    assert isinstance(replay, Provider)
    for model in (STRONG, CHEAP):
        total = 0.0
        for item in mmlu:
            response = replay.complete(by_item(model, item.item))
            assert response.recorded_score == item.scores[model]
            total += response.recorded_score
        expected = sum(item.scores[model] for item in mmlu)
        assert total == expected
    # The README's headline numbers: strong 80.6%, cheap 68.1%.
    strong = sum(it.scores[STRONG] for it in mmlu) / len(mmlu)
    cheap = sum(it.scores[CHEAP] for it in mmlu) / len(mmlu)
    assert round(strong * 100, 1) == 80.6
    assert round(cheap * 100, 1) == 68.1


def test_score_only_answer_names_the_model_and_counts_prompt_tokens(
    mmlu: RecordedOutcomes, replay: ReplayProvider
) -> None:
    item = mmlu.by_id["abstract_algebra-0001"]
    response = replay.complete(by_item(CHEAP, item.item))
    assert response.text == SCORE_ONLY_TEXT
    assert response.model_requested == CHEAP
    assert response.model_reported == CHEAP
    assert response.provider == "replay"
    assert response.usage.input_tokens == approximate_tokens(item.prompt)
    assert response.usage.input_tokens > 10
    # No recorded answer text: the documented estimate, one token (a one-letter answer).
    assert response.usage.output_tokens == UNRECORDED_OUTPUT_TOKENS == 1
    assert response.recorded_score == 0
    assert response.complete


def test_system_prompt_adds_to_input_tokens(mmlu: RecordedOutcomes, replay: ReplayProvider) -> None:
    item = mmlu.by_id["abstract_algebra-0000"]
    plain = replay.complete(by_item(STRONG, item.item))
    req = CompletionRequest(
        model=STRONG,
        messages=(Message("user", item.prompt),),
        system="Answer with one letter.",
        metadata={"item": item.item},
    )
    with_system = replay.complete(req)
    assert with_system.usage.input_tokens == plain.usage.input_tokens + approximate_tokens(
        "Answer with one letter."
    )


def test_lookup_by_exact_prompt_text(mmlu: RecordedOutcomes, replay: ReplayProvider) -> None:
    item = mmlu.by_id["abstract_algebra-0002"]
    response = replay.complete(by_prompt(STRONG, item.prompt))
    assert response.recorded_score == item.scores[STRONG]
    assert response.request_id == "replay:abstract_algebra-0002"


def test_prompt_shared_by_several_items_asks_for_the_item_id(
    mmlu: RecordedOutcomes, replay: ReplayProvider
) -> None:
    seen: dict[str, str] = {}
    duplicate = None
    for item in mmlu:
        if item.prompt in seen:
            duplicate = item.prompt
            break
        seen[item.prompt] = item.item
    assert duplicate is not None  # the MMLU file has repeated questions
    with pytest.raises(InvalidProviderRequest, match=r"several items .* metadata=\{'item'"):
        replay.complete(by_prompt(STRONG, duplicate))


def test_unknown_item_prompt_or_model_is_a_clear_invalid_request(replay: ReplayProvider) -> None:
    with pytest.raises(
        InvalidProviderRequest, match=r"item 'no-such-item' is not in .*mmlu\.jsonl"
    ):
        replay.complete(by_item(STRONG, "no-such-item"))
    with pytest.raises(InvalidProviderRequest, match=r"no recorded item .* has this prompt"):
        replay.complete(by_prompt(STRONG, "What is the capital of Atlantis?"))
    with pytest.raises(InvalidProviderRequest, match="model 'claude-x' is not in") as caught:
        replay.complete(by_item("claude-x", "abstract_algebra-0000"))
    assert STRONG in str(caught.value)
    assert CHEAP in str(caught.value)
    assert caught.value.model == "claude-x"


# --------------------------------------------------------------------------- 3 models, 1-10


MODELS = ("judge-small", "judge-medium", "judge-large")


@pytest.fixture
def three_models(tmp_path: Path) -> Path:
    path = tmp_path / "sar_drafting.jsonl"
    rows = [
        {
            "phase": "sar_drafting",
            "item": f"case-{n:03d}",
            "prompt": f"Draft the SAR narrative for case {n}: structuring below 10,000 EUR.",
            "scores": {m: 1 + (n * (i + 3)) % 10 for i, m in enumerate(MODELS)},
            "responses": (
                {
                    m: f"Narrative {n} by {m}: the customer made {n + 2} cash deposits."
                    for m in MODELS[1:]
                }
                if n % 2 == 0
                else {}
            ),
        }
        for n in range(40)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_three_models_with_ten_point_scores_and_responses(three_models: Path) -> None:
    replay = ReplayProvider(three_models)  # built from a path
    assert replay.outcomes.models == MODELS
    assert (replay.outcomes.score_min, replay.outcomes.score_max) == (1, 10)
    for model in MODELS:
        response = replay.complete(by_item(model, "case-004"))
        assert response.model_reported == model
        assert response.recorded_score == 1 + (4 * (MODELS.index(model) + 3)) % 10
        if model == "judge-small":
            assert response.text == SCORE_ONLY_TEXT
            assert response.usage.output_tokens == UNRECORDED_OUTPUT_TOKENS
        else:
            assert response.text == f"Narrative 4 by {model}: the customer made 6 cash deposits."
            assert response.usage.output_tokens == approximate_tokens(response.text)
            assert response.usage.output_tokens > 5
    odd = replay.complete(by_item("judge-large", "case-005"))
    assert odd.text == SCORE_ONLY_TEXT


def test_replay_streams_and_async(three_models: Path) -> None:
    replay = ReplayProvider(read_recorded(three_models), name="recorded")
    req = by_item("judge-medium", "case-010")
    events = list(replay.stream(req))
    assert len(events) == 2
    delta, end = events
    assert isinstance(delta, TextDelta)
    assert isinstance(end, StreamEnd)
    assert delta.text == end.response.text
    assert end.response.provider == "recorded"

    async def both() -> tuple[float | None, list[object]]:
        response = await replay.acomplete(req)
        streamed = [e async for e in replay.astream(req)]
        return response.recorded_score, streamed

    score, streamed = asyncio.run(both())
    assert score == end.response.recorded_score
    assert [type(e) for e in streamed] == [TextDelta, StreamEnd]
    assert streamed[0] == delta
    replay.close()


def _iter_items(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def test_generated_file_round_trips(three_models: Path) -> None:
    replay = ReplayProvider(three_models)
    for row in _iter_items(three_models):
        item = str(row["item"])
        scores = row["scores"]
        assert isinstance(scores, dict)
        for model in MODELS:
            assert replay.complete(by_item(model, item)).recorded_score == scores[model]


def test_the_unrecorded_answer_length_is_a_setting(three_models: Path) -> None:
    replay = ReplayProvider(three_models, unrecorded_output_tokens=40)
    assert replay.complete(by_item("judge-small", "case-004")).usage.output_tokens == 40
    recorded = replay.complete(by_item("judge-large", "case-004"))
    assert recorded.usage.output_tokens == approximate_tokens(recorded.text)
    with pytest.raises(ValueError, match="unrecorded_output_tokens"):
        ReplayProvider(three_models, unrecorded_output_tokens=-1)


def test_the_policy_sets_the_unrecorded_answer_length(three_models: Path) -> None:
    from phaseroute.policy import load_plan
    from phaseroute.runtime import Router

    policy = three_models.parent / "p.yaml"
    policy.write_text(
        "version: 1\ntiers: [cheap, top]\n"
        "providers:\n  rec: {type: replay, outcomes: "
        + three_models.name
        + ", unrecorded_output_tokens: 7}\n"
        "models:\n"
        "  small: {provider: rec, id: judge-small, tier: cheap,"
        " price: {input_per_mtok: 1, output_per_mtok: 2}}\n"
        "  large: {provider: rec, id: judge-large, tier: top,"
        " price: {input_per_mtok: 3, output_per_mtok: 6}}\n"
        "workflows:\n  w:\n    phases:\n      p:\n        kind: screening\n"
        "        catastrophic_error: throughput\n        caught_by: review\n"
        "controls:\n  review: {description: a human reviews}\n",
        encoding="utf-8",
    )
    plan = load_plan(policy)
    with Router.from_policy(policy) as router:
        result = router.complete("w", "p", [{"role": "user", "content": "x"}],
                                 metadata={"item": "case-005"})  # fmt: skip
    assert plan.decision("w", "p").model.name == "small"
    assert result.usage.output_tokens == 7
