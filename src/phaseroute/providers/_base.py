"""The one small contract every provider satisfies, and the value types it speaks.

Providers know nothing about policies, phases or tiers: they turn a `CompletionRequest`
for an exact model id into a `CompletionResponse` (or a stream of `StreamEvent`s), and map
their SDK's errors onto `phaseroute.errors` at the boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from phaseroute.providers._native import NativeEvent

Role = Literal["user", "assistant"]
WireProtocol = Literal["anthropic", "openai"]

# The normalised stop reasons (the provider's own word is kept in `stop_reason_raw`).
StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn", "other"
]
STOP_REASONS: tuple[str, ...] = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "refusal",
    "pause_turn",
    "other",
)


@dataclass(frozen=True, slots=True)
class CacheControl:
    """A prompt-cache breakpoint: the prefix up to and including this block is cached.

    `ttl` is Anthropic's cache lifetime ("5m" default, or "1h"); OpenAI caches prefixes
    automatically, so a breakpoint is simply not sent there.
    """

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


@dataclass(frozen=True, slots=True)
class Base64Source:
    """Inline data: base64 text and its media type (image/png, application/pdf, ...)."""

    media_type: str
    data: str


@dataclass(frozen=True, slots=True)
class UrlSource:
    """Data the provider fetches itself from a URL."""

    url: str


@dataclass(frozen=True, slots=True)
class PlainTextSource:
    """A document given as plain text (Anthropic's `text` document source)."""

    data: str
    media_type: str = "text/plain"


MediaSource = Base64Source | UrlSource


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Text, in a message, a system prompt or a tool result."""

    text: str
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ImageBlock:
    """An image, inline (base64) or by URL."""

    source: MediaSource
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class DocumentBlock:
    """A document (PDF inline or by URL, or plain text); Anthropic only."""

    source: Base64Source | UrlSource | PlainTextSource
    title: str | None = None
    context: str | None = None
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ToolUseBlock:
    """The assistant asks for a tool call. `input` is the parsed JSON arguments."""

    id: str
    name: str
    input: Mapping[str, Any]
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ToolResultBlock:
    """The caller's answer to one tool call, in a user turn."""

    tool_use_id: str
    content: str | tuple[TextBlock | ImageBlock, ...]
    is_error: bool = False
    cache_control: CacheControl | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    """A model's visible reasoning; must be passed back unchanged (with its signature)."""

    thinking: str
    signature: str


@dataclass(frozen=True, slots=True)
class RedactedThinkingBlock:
    """Reasoning the provider encrypted; passed back unchanged."""

    data: str


ContentBlock = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
)


def text_of(content: str | Sequence[ContentBlock]) -> str:
    """The text of a message's content: the string, or its text blocks joined."""
    if isinstance(content, str):
        return content
    return "".join(b.text for b in content if isinstance(b, TextBlock))


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn: text, or content blocks. System prompts travel on the request."""

    role: Role
    content: str | tuple[ContentBlock, ...]

    @property
    def text(self) -> str:
        return text_of(self.content)

    @property
    def blocks(self) -> tuple[ContentBlock, ...]:
        """The content as blocks (a string is one text block)."""
        if isinstance(self.content, str):
            return (TextBlock(self.content),) if self.content else ()
        return self.content


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and its JSON-schema input."""

    name: str
    input_schema: Mapping[str, Any]
    description: str | None = None
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """How the model may use the tools: `auto` (it decides), `any` (it must call one),
    `tool` (it must call `name`), `none` (it must not). `parallel=False` asks for at most
    one call per turn."""

    type: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None
    parallel: bool = True


@dataclass(frozen=True, slots=True)
class ThinkingConfig:
    """Extended thinking with a token budget (Anthropic's `thinking`)."""

    budget_tokens: int


@dataclass(frozen=True, slots=True)
class NativeBody:
    """A client's original request body and the protocol it speaks. A provider of the same
    protocol may send it unchanged except `model`; translation never reads it."""

    protocol: WireProtocol
    body: Mapping[str, Any]
    # Request headers to forward unchanged (e.g. anthropic-beta, anthropic-version).
    headers: Mapping[str, str] = field(default_factory=dict)
    # Why the body cannot be translated to the other protocol (None: it can). A provider of
    # the other protocol then refuses the call instead of dropping what it cannot express.
    untranslatable: str | None = None

    def body_for(self, model: str) -> dict[str, Any]:
        """The body to send upstream: the client's, with only `model` replaced."""
        out = dict(self.body)
        out["model"] = model
        return out


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What to ask one exact model. `model` is the provider's model id."""

    model: str
    messages: tuple[Message, ...]
    system: str | tuple[TextBlock, ...] | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    # Caller-supplied correlation (e.g. a recorded item id for replay); never sent upstream.
    metadata: Mapping[str, str] = field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    top_p: float | None = None
    top_k: int | None = None
    thinking: ThinkingConfig | None = None
    # The end user the call is made for (Anthropic metadata.user_id, OpenAI user).
    end_user: str | None = None
    native: NativeBody | None = None

    @property
    def system_text(self) -> str | None:
        """The system prompt as one string (blocks joined), or None."""
        if self.system is None:
            return None
        return self.system if isinstance(self.system, str) else text_of(self.system)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the provider reported them (or as a tokenizer approximated them).

    `input_tokens` excludes cache reads and writes (Anthropic's convention). `batch` marks a
    call served by a provider's batch API, which is priced at the batch rate.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    batch: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.batch or other.batch,
        )


@dataclass(frozen=True, slots=True)
class CompletionResponse:
    """A complete answer from one model.

    `content` holds every block of the answer (text, tool calls, thinking); `text` is its
    text joined (either may be given; the other is derived). `stop_reason` is normalised
    (see `STOP_REASONS`; partial answers carry an "incomplete" reason) and
    `stop_reason_raw` is the provider's own word. `model_reported` is the model the
    provider says served the call, which can differ from `model_requested` behind gateways
    and aliases; both are kept. `native` is the raw wire response body for passthrough.
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
    content: tuple[ContentBlock, ...] = ()
    stop_reason_raw: str | None = None
    # The upstream's own response body, when the request was passed through natively.
    native: bytes | None = None

    def __post_init__(self) -> None:
        if not self.content and self.text:
            object.__setattr__(self, "content", (TextBlock(self.text),))
        elif self.content and not self.text:
            object.__setattr__(self, "text", text_of(self.content))

    @property
    def tool_calls(self) -> tuple[ToolUseBlock, ...]:
        """The tool calls the answer asks for, in order."""
        return tuple(b for b in self.content if isinstance(b, ToolUseBlock))


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call. The first delta of call `index` carries its `id`
    and `name`; later ones carry only more of the JSON arguments."""

    index: int
    id: str | None
    name: str | None
    arguments_json_delta: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of streamed reasoning."""

    thinking: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The final event of a stream that completed: the whole answer, with usage."""

    response: CompletionResponse


StreamEvent = TextDelta | ToolCallDelta | ThinkingDelta | StreamEnd | NativeEvent


@runtime_checkable
class Provider(Protocol):
    """A model provider: auth and an SDK client, one request method per calling style.

    A stream yields `TextDelta`s (and `ToolCallDelta`s / `ThinkingDelta`s) and ends with
    exactly one `StreamEnd`; a stream that is cut off or carries an error raises
    `IncompleteResponse` instead of ending quietly.
    """

    @property
    def name(self) -> str: ...

    def complete(self, request: CompletionRequest) -> CompletionResponse: ...

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse: ...

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]: ...

    def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]: ...

    def close(self) -> None: ...
