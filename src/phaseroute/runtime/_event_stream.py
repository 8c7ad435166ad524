"""A routed stream that hands on the provider's own events (for the gateway).

`AsyncRoutedStream` yields text; a gateway must re-send every event its client expects —
text, tool-call deltas and, for a same-protocol upstream, the upstream's own SSE events.
`AsyncRoutedEventStream` yields the provider's events as they arrive, except the final
`StreamEnd`, which it yields only after the answer is billed, in the ledger and — for a
recorded phase — appended to the audit trail. So whoever holds back the end of the answer
until `StreamEnd` arrives releases it only once the record has committed; a failed append
raises `AuditWriteFailed` from the iteration instead.

A phase with an escalation validator is not streamed live: the validated answer arrives
as a single `StreamEnd`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from phaseroute.errors import IncompleteResponse
from phaseroute.providers._base import CompletionResponse, StreamEnd, StreamEvent, TextDelta
from phaseroute.providers._native import NativeEvent
from phaseroute.runtime._accounting import Billed
from phaseroute.runtime._retry import Exhausted
from phaseroute.runtime._stream import _aopen, _Base


class AsyncRoutedEventStream(_Base):
    """``async for event in stream``: provider events, then `StreamEnd` once recorded."""

    @property
    def model(self) -> str | None:
        """The catalogue model serving the stream, once it has opened."""
        return self._serving

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._once(self._events())

    async def aclose(self) -> None:
        """Stop early: the provider stream is closed and the call recorded incomplete."""
        aclose = getattr(self._gen, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        router, call = self._router, self._call
        if not self._live():
            billed, result = await router._acomplete_call(call)
            self._serving = billed.model.name
            self._parts.append(billed.response.text)
            self._result = result
            yield StreamEnd(result.response)
            return
        try:
            opened, model = await router._arun(call, router._primary_chain(call.decision), _aopen)
        except Exhausted:
            raise router._unavailable(call) from None
        self._serving = model.name
        response: CompletionResponse | None = None
        try:
            async for event in opened.events(router.retry.attempt_timeout_s, call.state):
                if isinstance(event, StreamEnd):
                    response = event.response
                    continue
                if isinstance(event, TextDelta | NativeEvent) and event.text:
                    self._parts.append(event.text)
                yield event
        except IncompleteResponse as e:
            self._incomplete(model, e)
            raise
        except (GeneratorExit, asyncio.CancelledError):
            self._incomplete(model, None)
            raise
        assert response is not None
        result = self._done(model, response)
        billed = Billed(model, response, result.cost, result.counterfactual_cost)
        self._result = router._observed(call, await router._aaudited(call, billed, result))
        yield StreamEnd(response)
