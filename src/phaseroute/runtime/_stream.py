"""Streamed routed calls: text deltas as they arrive, the full result at the end.

Rules: retries and fallback happen only before the first event reaches the caller (after
that a failure cannot be undone, so it raises `IncompleteResponse`); the call's
`deadline_s` bounds the stream to its last byte; a stream that is cut off, stalls, runs
past the deadline or is closed early is never reported complete — it is recorded as incomplete
in the ledger (and, for recorded phases, in the audit trail with `stream_complete=False`).
For recorded phases the audit append happens after the last delta and before the stream
finishes: `.result` only exists for an audited answer, and a failed append raises
`AuditWriteFailed` from the iteration. A phase with an escalation validator is not
streamed live — an answer that must be validated is shown only once it passed (or the
cascade ended), as one delta.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, TypeVar

from phaseroute.errors import IncompleteResponse, RequestError
from phaseroute.policy import ModelChoice
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    Provider,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)
from phaseroute.runtime._accounting import Billed
from phaseroute.runtime._result import RoutedResponse
from phaseroute.runtime._retry import Exhausted
from phaseroute.runtime._timeouts import AsyncEventStream

if TYPE_CHECKING:
    from phaseroute.runtime._engine import Call
    from phaseroute.runtime._router import Router


async def _aopen(
    provider: Provider, request: CompletionRequest, timeout: float | None
) -> AsyncEventStream:
    stream = AsyncEventStream(provider, request)
    await stream.prime(timeout)
    return stream


def _first_event_within_deadline(call: Call) -> Callable[[float | None], float]:
    """The wait for a stream's first event: the attempt timeout, or — with no attempt
    timeout — what is left of the call's deadline (a stream never outlives `deadline_s`)."""

    def bound(timeout: float | None) -> float:
        return timeout if timeout is not None else max(call.state.remaining(), 0.0)

    return bound


Delta = TextDelta | ToolCallDelta | ThinkingDelta


def _whole(response: CompletionResponse) -> Iterator[Delta]:
    """A complete answer as deltas: its text in one piece, then each tool call whole."""
    if response.text:
        yield TextDelta(response.text)
    for i, call in enumerate(response.tool_calls):
        yield ToolCallDelta(i, call.id, call.name, json.dumps(dict(call.input)))


def _texts(events: Iterator[Delta]) -> Iterator[str]:
    try:
        for event in events:
            if isinstance(event, TextDelta):
                yield event.text
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


async def _atexts(events: AsyncIterator[Delta]) -> AsyncIterator[str]:
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                yield event.text
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


_G = TypeVar("_G", Iterator[Delta], AsyncIterator[Delta], AsyncIterator[StreamEvent])


class _Base:
    def __init__(self, router: Router, call: Call) -> None:
        self._router = router
        self._call = call
        self._parts: list[str] = []
        self._result: RoutedResponse | None = None
        self._started = False
        self._gen: Iterator[Delta] | AsyncIterator[Delta] | AsyncIterator[StreamEvent] | None = None
        self._serving: str | None = None

    @property
    def text(self) -> str:
        """The text streamed so far."""
        return "".join(self._parts)

    @property
    def result(self) -> RoutedResponse:
        """The routed answer; only once the stream has completed."""
        if self._result is None:
            raise RequestError(
                "the stream has not completed — iterate it to the end before reading .result"
            )
        return self._result

    def _live(self) -> bool:
        return self._call.decision.key not in self._router._validators

    def _once(self, gen: _G) -> _G:
        """`gen`, the stream's events, on the first iteration only."""
        if self._started:
            raise RequestError("a routed stream can be iterated once")
        self._started = True
        self._gen = gen
        return gen

    def _incomplete(self, model: ModelChoice, error: BaseException | None) -> None:
        """Record the partial answer: in the ledger, and in the audit trail if recorded."""
        router, call = self._router, self._call
        partial = CompletionResponse(
            text=self.text,
            model_requested=model.model_id,
            model_reported=model.model_id,
            provider=model.provider,
            usage=Usage(),
            stop_reason=f"incomplete: {type(error).__name__}" if error else "closed by caller",
            complete=False,
        )
        billed = Billed(model, partial, None, None)
        result = router._finish(call, billed, outcome="incomplete")
        if call.decision.record:
            try:
                router._audited(call, billed, result)
            except Exception as e:
                raise e from error

    def _done(self, model: ModelChoice, response: CompletionResponse) -> RoutedResponse:
        router, call = self._router, self._call
        billed = router._accountant.bill(model, response)
        return router._finish(call, billed)


class RoutedStream(_Base):
    """A routed call streaming its text; iterate for deltas, then read `.result`.

    Iterating gives text; `events()` gives every delta instead — `TextDelta`,
    `ToolCallDelta` (a tool call's id and name, then pieces of its JSON arguments) and
    `ThinkingDelta`. Either may be used, once.
    """

    def __iter__(self) -> Iterator[str]:
        return _texts(self._begin())

    def events(self) -> Iterator[Delta]:
        """Every delta as a typed event; `.result` holds the complete blocks afterwards."""
        return self._begin()

    def _begin(self) -> Iterator[Delta]:
        return self._once(self._events())

    def _events(self) -> Iterator[Delta]:
        router, call = self._router, self._call
        if not self._live():
            billed, result = router._complete_call(call)
            self._parts.append(billed.response.text)
            yield from _whole(billed.response)
            self._result = result
            return
        try:
            bound = _first_event_within_deadline(call)
            opened, model = router._run(
                call,
                router._primary_chain(call.decision),
                lambda p, r, t: router._workers.open_stream(p, r, bound(t)),
            )
        except Exhausted:
            raise router._unavailable(call) from None
        response: CompletionResponse | None = None
        try:
            for event in opened.events(router.retry.attempt_timeout_s, call.state):
                if isinstance(event, TextDelta):
                    self._parts.append(event.text)
                    yield event
                elif isinstance(event, ToolCallDelta | ThinkingDelta):
                    yield event
                elif isinstance(event, StreamEnd):
                    response = event.response
        except IncompleteResponse as e:
            self._incomplete(model, e)
            raise
        except GeneratorExit:
            self._incomplete(model, None)
            raise
        assert response is not None
        result = self._done(model, response)
        billed = Billed(model, response, result.cost, result.counterfactual_cost)
        self._result = router._observed(call, router._audited(call, billed, result))

    def __enter__(self) -> RoutedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop early: the provider stream is closed and the call recorded incomplete."""
        if isinstance(self._gen, Generator):
            self._gen.close()


class AsyncRoutedStream(_Base):
    """The async twin of `RoutedStream`: ``async for delta in stream``."""

    def __aiter__(self) -> AsyncIterator[str]:
        return _atexts(self._begin())

    def events(self) -> AsyncIterator[Delta]:
        """Every delta as a typed event (see `RoutedStream.events`)."""
        return self._begin()

    def _begin(self) -> AsyncIterator[Delta]:
        return self._once(self._events())

    async def __aenter__(self) -> AsyncRoutedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop early: the provider stream is closed and the call recorded incomplete."""
        aclose = getattr(self._gen, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _events(self) -> AsyncIterator[Delta]:
        router, call = self._router, self._call
        if not self._live():
            billed, result = await router._acomplete_call(call)
            self._parts.append(billed.response.text)
            for delta in _whole(billed.response):
                yield delta
            self._result = result
            return
        try:
            # async attempts are bounded by the deadline already (see CallState)
            opened, model = await router._arun(call, router._primary_chain(call.decision), _aopen)
        except Exhausted:
            raise router._unavailable(call) from None
        response: CompletionResponse | None = None
        try:
            async for event in opened.events(router.retry.attempt_timeout_s, call.state):
                if isinstance(event, TextDelta):
                    self._parts.append(event.text)
                    yield event
                elif isinstance(event, ToolCallDelta | ThinkingDelta):
                    yield event
                elif isinstance(event, StreamEnd):
                    response = event.response
        except IncompleteResponse as e:
            self._incomplete(model, e)
            raise
        except GeneratorExit:
            self._incomplete(model, None)
            raise
        assert response is not None
        result = self._done(model, response)
        billed = Billed(model, response, result.cost, result.counterfactual_cost)
        self._result = router._observed(call, await router._aaudited(call, billed, result))
