"""In-process fakes for testing code that uses the router: a scriptable provider with fault
injection, a clock whose sleeps are instant, and an in-memory audit sink.

They satisfy the same protocols as the real things and are injected through constructors
(``Router(plan, {"anthropic": FakeProvider(...)})``); nothing is patched.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from phaseroute.errors import AuditWriteFailed, IncompleteResponse, Overloaded, ProviderTimeout
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    ContentBlock,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolUseBlock,
    Usage,
    text_of,
)


class Fault:
    """What a fake call does instead of answering."""

    HANG = "hang"  # block until the fake's hang time passes (or it is closed)
    CUT = "cut"  # stream a little, then break off (an error inside an HTTP 200 stream)


FaultValue = BaseException | str | None
Answer = str | tuple[ContentBlock, ...]
Reply = Answer | Callable[[CompletionRequest], Answer]


def scripted(*faults: FaultValue) -> Callable[[CompletionRequest], FaultValue]:
    """Faults served in order, one per call; None answers normally. Then always None."""
    pending = list(faults)
    lock = threading.Lock()

    def next_fault(_request: CompletionRequest) -> FaultValue:
        with lock:
            return pending.pop(0) if pending else None

    return next_fault


def random_faults(
    rates: Mapping[str, float], *, seed: int = 0, models: Sequence[str] | None = None
) -> Callable[[CompletionRequest], FaultValue]:
    """Random faults at the given rates, e.g. ``{"overloaded": 0.10, "hang": 0.02}``, for
    requests to `models` (model ids; all when None). Kinds: overloaded, hang, cut."""
    rng = random.Random(seed)
    lock = threading.Lock()
    targets = None if models is None else frozenset(models)

    def next_fault(request: CompletionRequest) -> FaultValue:
        if targets is not None and request.model not in targets:
            return None
        with lock:
            roll = rng.random()
        edge = 0.0
        for kind, rate in rates.items():
            edge += rate
            if roll < edge:
                if kind == "overloaded":
                    return Overloaded(
                        "Overloaded", status_code=529, provider="fake", model=request.model
                    )
                return {"hang": Fault.HANG, "cut": Fault.CUT}[kind]
        return None

    return next_fault


def _tool_deltas(answer: Answer) -> Iterator[ToolCallDelta]:
    """A streamed tool call: its id and name, then its arguments in one piece."""
    calls = [b for b in answer if isinstance(b, ToolUseBlock)] if isinstance(answer, tuple) else []
    for i, call in enumerate(calls):
        yield ToolCallDelta(i, call.id, call.name, "")
        yield ToolCallDelta(i, None, None, json.dumps(dict(call.input)))


def _count(text: str) -> int:
    return len(text.split())


class FakeProvider:
    """A provider that answers from a script, instantly unless told otherwise.

    `reply` is the answer text or content blocks (e.g. tool calls), or a function of the
    request giving either; `faults` decides, per call,
    whether to fail instead (an exception instance is raised, ``Fault.HANG`` blocks for
    `hang_s`, ``Fault.CUT`` cuts a stream off). Token counts are whitespace word counts.
    Every request is kept in `requests`.
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        reply: Reply = "ok",
        faults: Callable[[CompletionRequest], FaultValue] | None = None,
        hang_s: float = 5.0,
        report_as: Mapping[str, str] | None = None,
        cache_read_tokens: int = 0,
    ) -> None:
        self._name = name
        self._reply = reply
        self._faults = faults
        self._hang_s = hang_s
        self._report_as = dict(report_as or {})
        self._cache_read = cache_read_tokens
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.requests: list[CompletionRequest] = []
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    # ------------------------------------------------------------------ internals

    def _begin(self, request: CompletionRequest) -> FaultValue:
        with self._lock:
            self.requests.append(request)
        return self._faults(request) if self._faults is not None else None

    def _text(self, request: CompletionRequest) -> Answer:
        return self._reply(request) if callable(self._reply) else self._reply

    def _response(self, request: CompletionRequest, answer: Answer) -> CompletionResponse:
        words = sum(_count(m.text) for m in request.messages) + _count(request.system_text or "")
        text = text_of(answer)
        content = answer if isinstance(answer, tuple) else ()
        calls = any(isinstance(b, ToolUseBlock) for b in content)
        return CompletionResponse(
            text=text,
            content=content,
            model_requested=request.model,
            model_reported=self._report_as.get(request.model, request.model),
            provider=self._name,
            usage=Usage(words, _count(text), self._cache_read, 0),
            stop_reason="tool_use" if calls else "end_turn",
            request_id=f"fake-{len(self.requests)}",
            first_token_s=0.0,
            latency_s=0.0,
        )

    def _hung(self, request: CompletionRequest) -> ProviderTimeout:
        return ProviderTimeout(
            f"fake upstream hung for {self._hang_s}s", provider=self._name, model=request.model
        )

    def _cut(self, request: CompletionRequest) -> IncompleteResponse:
        return IncompleteResponse(
            "overloaded_error inside the stream", provider=self._name, model=request.model
        )

    # ------------------------------------------------------------------ protocol

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        fault = self._begin(request)
        if isinstance(fault, BaseException):
            raise fault
        if fault == Fault.HANG:
            self._released.wait(self._hang_s)
            raise self._hung(request)
        if fault == Fault.CUT:
            raise self._cut(request)
        return self._response(request, self._text(request))

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        fault = self._begin(request)
        if isinstance(fault, BaseException):
            raise fault
        if fault == Fault.HANG:
            await asyncio.sleep(self._hang_s)
            raise self._hung(request)
        if fault == Fault.CUT:
            raise self._cut(request)
        return self._response(request, self._text(request))

    def _pieces(self, text: str) -> list[str]:
        words = text.split(" ")
        return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        fault = self._begin(request)
        if isinstance(fault, BaseException):
            raise fault
        if fault == Fault.HANG:
            self._released.wait(self._hang_s)
            raise self._hung(request)
        answer = self._text(request)
        pieces = self._pieces(text_of(answer))
        for i, piece in enumerate(pieces):
            yield TextDelta(piece)
            if fault == Fault.CUT and i == 0:
                raise self._cut(request)
        yield from _tool_deltas(answer)
        yield StreamEnd(self._response(request, answer))

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        fault = self._begin(request)
        if isinstance(fault, BaseException):
            raise fault
        if fault == Fault.HANG:
            await asyncio.sleep(self._hang_s)
            raise self._hung(request)
        answer = self._text(request)
        for i, piece in enumerate(self._pieces(text_of(answer))):
            yield TextDelta(piece)
            if fault == Fault.CUT and i == 0:
                raise self._cut(request)
        for delta in _tool_deltas(answer):
            yield delta
        yield StreamEnd(self._response(request, answer))

    def close(self) -> None:
        self.closed = True
        self._released.set()


class FakeClock:
    """Real monotonic time plus every sleep taken, so backoff costs no wall time while a
    hung attempt still counts against a deadline."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self._start = start or datetime(2025, 1, 1, tzinfo=UTC)
        self._t0 = time.monotonic()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic() - self._t0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
            self.slept.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class MemoryReceipt:
    sequence: int


class MemoryAuditTrail:
    """An audit sink that keeps entries in a list; `failing=True` makes appends fail."""

    def __init__(self, *, failing: bool = False) -> None:
        self.entries: list[Any] = []
        self.failing = failing
        self._lock = threading.Lock()

    def append(self, entry: Any) -> MemoryReceipt:
        with self._lock:
            if self.failing:
                raise AuditWriteFailed("the in-memory audit trail was told to fail")
            self.entries.append(entry)
            return MemoryReceipt(len(self.entries))

    def close(self) -> None:
        return None
