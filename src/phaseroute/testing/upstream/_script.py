"""What the local upstream does for each request: outcomes, per-model behaviour, requests seen."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from enum import StrEnum
from typing import Any, Literal

# In an outcome's `message`: replaced by the API key the request carried.
ECHO_KEY = "{api_key}"


class OutcomeKind(StrEnum):
    """How one request ends. Error kinds send that provider's real status, body and headers."""

    OK = "ok"
    BAD_REQUEST = "bad_request"  # 400 invalid_request_error
    UNAUTHORIZED = "unauthorized"  # 401 authentication_error / invalid_api_key
    FORBIDDEN = "forbidden"  # 403 permission_error
    NOT_FOUND = "not_found"  # 404 not_found_error / model_not_found
    UNPROCESSABLE = "unprocessable"  # 422
    RATE_LIMITED = "rate_limited"  # 429 rate_limit_error, with retry-after unless told otherwise
    SPEND_LIMIT = "spend_limit"  # 429 spend limit / insufficient_quota, never a retry-after
    SERVER_ERROR = "server_error"  # 500 api_error / server_error
    OVERLOADED = "overloaded"  # Anthropic 529 overloaded_error; OpenAI 503 "engine overloaded"
    HANG = "hang"  # read the request, never answer (until the upstream's hang limit)
    CUT_OFF = "cut_off"  # drop the connection part-way through the body
    EARLY_END = "early_end"  # a stream that ends cleanly before message_stop / [DONE]
    STREAM_ERROR = "stream_error"  # HTTP 200 stream that carries an error event part-way
    EXPIRED = "expired"  # in a batch: the request expires unprocessed (live: a 500)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One scripted or injected outcome.

    `retry_after` / `retry_after_ms` are raw header values (a number of seconds, or an
    HTTP-date — see `http_date`); `status` overrides the HTTP status of an error kind;
    `after_deltas` is how many text deltas a stream sends before it is cut or errors.
    `message` replaces the error's text (also inside a STREAM_ERROR); `ECHO_KEY` in it
    becomes the API key the request carried, as a careless upstream might echo it.
    A non-streamed request answers EARLY_END like CUT_OFF and STREAM_ERROR like OVERLOADED.
    """

    kind: OutcomeKind = OutcomeKind.OK
    retry_after: str | None = None
    retry_after_ms: str | None = None
    status: int | None = None
    after_deltas: int = 2
    message: str | None = None

    @classmethod
    def rate_limited(
        cls, retry_after: float | str | None = 1, *, retry_after_ms: float | None = None
    ) -> Outcome:
        """A 429 rate limit asking to wait `retry_after` seconds (or an HTTP-date string)."""
        return cls(
            OutcomeKind.RATE_LIMITED,
            retry_after=None if retry_after is None else _header_number(retry_after),
            retry_after_ms=None if retry_after_ms is None else _header_number(retry_after_ms),
        )


def http_date(epoch_seconds: float) -> str:
    """Format a moment as an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`) for `retry-after`."""
    return formatdate(epoch_seconds, usegmt=True)


def _header_number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


Api = Literal["anthropic", "openai"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the upstream answers with (its id is made up on the wire)."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool result the upstream received (Anthropic tool_result or OpenAI role tool)."""

    tool_use_id: str
    content: str
    is_error: bool


@dataclass(frozen=True, slots=True)
class Turn:
    """An answer with tool calls: optional text, then the calls (stop reason: tool use)."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """A request as the upstream received it, normalised over both wire protocols."""

    api: Api
    model: str
    messages: tuple[tuple[str, str], ...]  # (role, text)
    system: str | None
    max_tokens: int | None
    temperature: float | None
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    headers: Mapping[str, str] = field(repr=False)
    tools: tuple[str, ...] = ()  # names of the tools offered
    tool_results: tuple[ToolResult, ...] = ()  # results in the conversation, in order
    tool_choice: Any = None  # as sent
    # The request exactly as it arrived: path (with query string) and body bytes.
    path: str = ""
    raw_body: bytes = field(default=b"", repr=False)

    def json_body(self) -> Any:
        """The body as the JSON the client sent."""
        return json.loads(self.raw_body)

    @property
    def last_user_text(self) -> str:
        return next((text for role, text in reversed(self.messages) if role == "user"), "")


Reply = str | Turn | Callable[[UpstreamRequest], str | Turn]


def default_reply(request: UpstreamRequest) -> str:
    """The answer of an unprogrammed model: names it and echoes the question."""
    return f"{request.model} answers: {request.last_user_text[:200]}"


@dataclass(frozen=True)
class ModelBehaviour:
    """How the upstream answers for one requested model id.

    `script` outcomes are served first, in order; after them each request draws from
    `faults` (outcome → probability, seeded RNG) and otherwise succeeds. `served_as` is
    the model name the response reports (defaults to the requested one).
    """

    reply: Reply = default_reply
    served_as: str | None = None
    script: tuple[Outcome, ...] = ()
    faults: Mapping[Outcome, float] = field(default_factory=dict)
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    first_token_delay_s: float = 0.0
    delta_delay_s: float = 0.0
    chunk_chars: int = 8

    def __post_init__(self) -> None:
        total = sum(self.faults.values())
        if any(p < 0 for p in self.faults.values()) or total > 1:
            raise ValueError(f"fault probabilities must be >= 0 and sum to <= 1, got {total}")
        if self.chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")
