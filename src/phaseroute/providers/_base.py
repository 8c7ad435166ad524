"""The one small contract every provider satisfies, and the value types it speaks.

Providers know nothing about policies, phases or tiers: they turn a `CompletionRequest`
for an exact model id into a `CompletionResponse` (or a stream of `StreamEvent`s), and map
their SDK's errors onto `phaseroute.errors` at the boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from phaseroute.providers._native import NativeEvent, NativeRequest

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn. System prompts travel separately on the request."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What to ask one exact model. `model` is the provider's model id."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    # Caller-supplied correlation (e.g. a recorded item id for replay); never sent upstream.
    metadata: Mapping[str, str] = field(default_factory=dict)
    # The client's own request, for same-protocol passthrough (see providers/_native.py);
    # a provider of another protocol ignores it and sends the translated fields above.
    native: NativeRequest | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the provider reported them (or as a tokenizer approximated them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class CompletionResponse:
    """A complete answer from one model.

    `model_reported` is the model the provider says served the call, which can differ
    from `model_requested` behind gateways and aliases; both are kept.
    """

    text: str
    model_requested: str
    model_reported: str
    provider: str
    usage: Usage
    stop_reason: str | None = None
    request_id: str | None = None
    complete: bool = True
    # Seconds from sending the request to the first token / to the end of the answer.
    first_token_s: float | None = None
    latency_s: float | None = None
    # Replay only: the recorded score of this answer, on the recorded file's scale.
    recorded_score: float | None = None
    # The upstream's own response body, when the request was passed through natively.
    native: bytes | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The final event of a stream that completed: the whole answer, with usage."""

    response: CompletionResponse


StreamEvent = TextDelta | StreamEnd | NativeEvent


@runtime_checkable
class Provider(Protocol):
    """A model provider: auth and an SDK client, one request method per calling style.

    A stream yields `TextDelta`s and ends with exactly one `StreamEnd`; a stream that is
    cut off or carries an error raises `IncompleteResponse` instead of ending quietly.
    """

    @property
    def name(self) -> str: ...

    def complete(self, request: CompletionRequest) -> CompletionResponse: ...

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse: ...

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]: ...

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]: ...

    def close(self) -> None: ...
