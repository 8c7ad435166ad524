"""Replay recorded outcomes as if a model answered: offline, instant, on real scored data.

Token counts are approximated with `approximate_tokens` (a cl100k-style pre-tokenizer,
no tokenizer file): input from the prompt text, output from the recorded response when
the file has one. They approximate; they are not any model's real tokenizer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from phaseroute.errors import InvalidProviderRequest
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from phaseroute.providers._tokens import approximate_tokens
from phaseroute.recorded import RecordedItem, RecordedOutcomes, read_recorded

SCORE_ONLY_TEXT = "[replay: only the score of this answer was recorded, not its text]"


class ReplayProvider:
    """Serves a recorded-outcome file: any model names, any number of models, any scale.

    The item is `request.metadata["item"]` when given, else the item whose prompt equals
    the last user message exactly. Both lookups are O(1).
    """

    def __init__(self, outcomes: RecordedOutcomes | str | Path, *, name: str = "replay") -> None:
        self._outcomes = (
            outcomes if isinstance(outcomes, RecordedOutcomes) else read_recorded(outcomes)
        )
        self._name = name
        by_prompt: dict[str, RecordedItem | None] = {}
        for item in self._outcomes.items:
            # Two items with the same prompt cannot be told apart by text: mark it ambiguous.
            by_prompt[item.prompt] = None if item.prompt in by_prompt else item
        self._by_prompt = by_prompt
        self._prompt_tokens: dict[str, int] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def outcomes(self) -> RecordedOutcomes:
        return self._outcomes

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        started = time.perf_counter()
        item = self._find(request)
        model = request.model
        if model not in item.scores:
            raise InvalidProviderRequest(
                f"replay: model {model!r} is not in {self._outcomes.path} "
                f"(recorded models: {', '.join(self._outcomes.models)})",
                provider=self._name,
                model=model,
            )
        recorded = item.responses.get(model)
        text = recorded if recorded is not None else SCORE_ONLY_TEXT
        prompt_tokens = self._prompt_tokens.get(item.item)
        if prompt_tokens is None:
            prompt_tokens = self._prompt_tokens[item.item] = approximate_tokens(item.prompt)
        input_tokens = prompt_tokens + (
            approximate_tokens(request.system_text or "") if request.system else 0
        )
        output_tokens = approximate_tokens(recorded) if recorded is not None else 0
        elapsed = time.perf_counter() - started
        return CompletionResponse(
            text=text,
            model_requested=model,
            model_reported=model,
            provider=self._name,
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
            stop_reason="end_turn",
            request_id=f"replay:{item.item}",
            first_token_s=elapsed,
            latency_s=elapsed,
            recorded_score=item.scores[model],
        )

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        return self.complete(request)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        response = self.complete(request)
        if response.text:
            yield TextDelta(response.text)
        yield StreamEnd(response)

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        for event in self.stream(request):
            yield event

    def close(self) -> None:
        """Nothing to release: the file was read whole at construction."""

    def _find(self, request: CompletionRequest) -> RecordedItem:
        item_id = request.metadata.get("item")
        if item_id is not None:
            item = self._outcomes.by_id.get(item_id)
            if item is None:
                raise InvalidProviderRequest(
                    f"replay: item {item_id!r} is not in {self._outcomes.path}",
                    provider=self._name,
                    model=request.model,
                )
            return item
        prompt = next((m.text for m in reversed(request.messages) if m.role == "user"), None)
        if prompt is None:
            raise InvalidProviderRequest(
                "replay: the request has no user message and no metadata['item']",
                provider=self._name,
                model=request.model,
            )
        if prompt not in self._by_prompt:
            raise InvalidProviderRequest(
                f"replay: no recorded item in {self._outcomes.path} has this prompt "
                f"({prompt[:60]!r}...); pass metadata={{'item': <id>}} or the exact prompt text",
                provider=self._name,
                model=request.model,
            )
        found = self._by_prompt[prompt]
        if found is None:
            raise InvalidProviderRequest(
                f"replay: several items in {self._outcomes.path} share this prompt; "
                "pass metadata={'item': <id>} to choose one",
                provider=self._name,
                model=request.model,
            )
        return found
