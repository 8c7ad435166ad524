"""Native passthrough through the official SDKs: the client's body out, the upstream's bytes back.

Both SDKs are used as their authors document for raw access: ``client.post(path,
cast_to=httpx.Response, content=..., options={"headers": ...})`` sends the body as given (only
`model` replaced) with the SDK's auth, base URL, timeouts and error mapping. The body is
written by orjson (the SDK's own ``json.dumps`` took ~15% of a 100 kB call), compact and
UTF-8 like the SDK's, with the same keys in the same order and the same values; a body
orjson cannot write as the SDK would (a non-finite float, an integer beyond 64 bits, nesting
beyond 255 levels) goes to the SDK as ``body=``. A raw response is read as bytes, a raw
stream is cut into SSE events without changing them. Each protocol reads usage, text, stop
reason and the served model for accounting (`_Reader`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx2
import orjson

from phaseroute.errors import InvalidProviderRequest, ProviderError
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    StreamEnd,
    Usage,
    WireProtocol,
)
from phaseroute.providers._http_errors import stream_broken
from phaseroute.providers._native import NativeEvent, SseEvent, SseSplitter
from phaseroute.wire import anthropic as wire_anthropic
from phaseroute.wire import openai as wire_openai

# The SDKs' documented switch for an unread (streamed) raw response.
_RAW_STREAM = {"X-Stainless-Raw-Response": "stream"}


class _RawClient(Protocol):
    async def post(
        self, path: str, *, cast_to: Any, body: Any = None, content: Any = None, options: Any
    ) -> Any: ...


MapError = Callable[..., ProviderError]


def _usage_anthropic(u: Mapping[str, Any], before: Usage) -> Usage:
    def pick(key: str, old: int) -> int:
        value = u.get(key)
        return int(value) if isinstance(value, int) else old

    return Usage(
        input_tokens=pick("input_tokens", before.input_tokens),
        output_tokens=pick("output_tokens", before.output_tokens),
        cache_read_tokens=pick("cache_read_input_tokens", before.cache_read_tokens),
        cache_write_tokens=pick("cache_creation_input_tokens", before.cache_write_tokens),
    )


def _usage_openai(u: Mapping[str, Any]) -> Usage:
    details = u.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0
    # phaseroute's input_tokens exclude cache reads (Anthropic's convention).
    return Usage(
        input_tokens=max(0, int(u.get("prompt_tokens") or 0) - cached),
        output_tokens=int(u.get("completion_tokens") or 0),
        cache_read_tokens=cached,
    )


@dataclass
class _Reader:
    """What an answer says, read from its JSON body or its SSE events."""

    protocol: WireProtocol
    request: CompletionRequest
    provider: str
    started: float
    request_id: str | None
    relay_usage_chunk: bool = True
    model: str | None = None
    parts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    first_token_s: float | None = None
    finished: bool = False

    def event(self, sse: SseEvent) -> NativeEvent | None:
        """The event to hand on (None: keep it from the client); raises on an error event."""
        if self.protocol == "anthropic":
            return self._anthropic(sse)
        return self._openai(sse)

    def _text(self, text: str) -> None:
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self.started
        self.parts.append(text)

    def _broken(self, what: str) -> ProviderError:
        return stream_broken(
            what, provider=self.provider, model=self.request.model, request_id=self.request_id
        )

    def _anthropic(self, sse: SseEvent) -> NativeEvent:
        data = sse.json()
        kind = data.get("type") if isinstance(data, Mapping) else None
        if sse.event == "error" or kind == "error":
            error = data.get("error", {}) if isinstance(data, Mapping) else {}
            raise self._broken(
                f"error event {error.get('type', 'error')}: {error.get('message', sse.data)}"
            )
        if not isinstance(data, Mapping):
            return NativeEvent(sse.raw)
        text = ""
        if kind == "message_start":
            message = data.get("message") or {}
            self.model = message.get("model") or self.model
            self.usage = _usage_anthropic(message.get("usage") or {}, self.usage)
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                text = str(delta.get("text", ""))
                self._text(text)
        elif kind == "message_delta":
            self.stop_reason = (data.get("delta") or {}).get("stop_reason") or self.stop_reason
            self.usage = _usage_anthropic(data.get("usage") or {}, self.usage)
        elif kind == "message_stop":
            self.finished = True
        return NativeEvent(sse.raw, terminal=kind in ("message_delta", "message_stop"), text=text)

    def _openai(self, sse: SseEvent) -> NativeEvent | None:
        if sse.data.strip() == "[DONE]":
            if self.stop_reason is None:
                raise self._broken("[DONE] before any finish_reason")
            self.finished = True
            return NativeEvent(sse.raw, terminal=True)
        data = sse.json()
        if not isinstance(data, Mapping):
            return NativeEvent(sse.raw)
        if "error" in data:
            error = data.get("error") or {}
            message = error.get("message") if isinstance(error, Mapping) else error
            raise self._broken(f"error event: {message}")
        self.model = self.model or data.get("model")
        text = ""
        terminal = False
        for choice in data.get("choices") or []:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            content = (choice.get("delta") or {}).get("content")
            if content:
                text = str(content)
                self._text(text)
            if choice.get("finish_reason") is not None:
                self.stop_reason = choice["finish_reason"]
                terminal = True
        if data.get("usage"):
            self.usage = _usage_openai(data["usage"])
            terminal = True
            if not data.get("choices") and not self.relay_usage_chunk:
                return None  # asked for accounting only; the client did not ask for it
        return NativeEvent(sse.raw, terminal=terminal, text=text)

    def response(self) -> CompletionResponse:
        elapsed = time.perf_counter() - self.started
        return CompletionResponse(
            text="".join(self.parts),
            model_requested=self.request.model,
            model_reported=self.model or self.request.model,
            provider=self.provider,
            usage=self.usage,
            stop_reason=(
                wire_anthropic.stop_reason_from_wire(self.stop_reason)
                if self.protocol == "anthropic"
                else wire_openai.stop_reason_from_wire(self.stop_reason)
            ),
            stop_reason_raw=self.stop_reason,
            request_id=self.request_id,
            first_token_s=self.first_token_s,
            latency_s=elapsed,
        )


_PATHS: dict[WireProtocol, str] = {"anthropic": "/v1/messages", "openai": "/chat/completions"}
_REQUEST_ID: dict[WireProtocol, str] = {"anthropic": "request-id", "openai": "x-request-id"}


def passes_through(request: CompletionRequest, protocol: WireProtocol) -> bool:
    """Whether `request` came from a client of this provider's own protocol."""
    return request.native is not None and request.native.protocol == protocol


def refuse_untranslatable(
    request: CompletionRequest, protocol: WireProtocol, provider: str
) -> None:
    """A client body of another protocol that cannot be translated is refused, never cut."""
    native = request.native
    if native is not None and native.protocol != protocol and native.untranslatable:
        raise InvalidProviderRequest(
            f"{provider} {request.model}: this {native.protocol} request cannot be sent to a "
            f"{protocol} model: {native.untranslatable}",
            provider=provider,
            model=request.model,
        )


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in `value` (orjson would write them as null)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        return all(_finite(item) for item in value.values())
    if kind is list:
        return all(_finite(item) for item in value)
    return True


def _joined(events: list[NativeEvent]) -> NativeEvent:
    """Consecutive non-terminal events as one: their bytes and their text, in order."""
    if len(events) == 1:
        return events[0]
    return NativeEvent(b"".join(e.data for e in events), False, "".join(e.text for e in events))


def _payload(body: dict[str, Any]) -> dict[str, Any]:
    """`client.post`'s body arguments: the JSON bytes as `content`, else the dict as `body`."""
    try:
        content = orjson.dumps(body)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, nesting beyond 255 levels
        return {"body": body}
    return {"content": content} if _finite(body) else {"body": body}


def _body(request: CompletionRequest, stream: bool) -> tuple[dict[str, Any], bool]:
    """The upstream body, and whether the client asked for OpenAI's usage chunk."""
    assert request.native is not None
    body = request.native.body_for(request.model)
    if not stream:
        body.pop("stream", None)  # answered whole (e.g. a validated phase): no SSE here
        body.pop("stream_options", None)
        return body, True
    if request.native.protocol != "openai":
        return body, True
    options = body.get("stream_options")
    asked = isinstance(options, Mapping) and bool(options.get("include_usage"))
    if not asked:
        # Usage is needed for accounting; the extra chunk is not relayed (see _Reader).
        body["stream_options"] = {**(options or {}), "include_usage": True}
    return body, asked


async def acomplete_native(
    client: _RawClient,
    request: CompletionRequest,
    *,
    protocol: WireProtocol,
    provider: str,
    sdk_errors: tuple[type[BaseException], ...],
    map_error: MapError,
) -> CompletionResponse:
    """One non-streamed passthrough call; the upstream's body comes back in `.native`."""
    assert request.native is not None
    started = time.perf_counter()
    body, _ = _body(request, stream=False)
    try:
        raw: httpx2.Response = await client.post(
            _PATHS[protocol],
            cast_to=httpx2.Response,
            options={"headers": dict(request.native.headers)},
            **_payload(body),
        )
        content = raw.content
    except sdk_errors as e:
        raise map_error(e, provider=provider, model=request.model, in_stream=False) from e
    request_id = raw.headers.get(_REQUEST_ID[protocol])
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if not isinstance(data, Mapping):
        raise stream_broken(
            "the response body is not a JSON object",
            provider=provider,
            model=request.model,
            request_id=request_id,
        )
    read = (
        wire_anthropic.response_from_wire
        if protocol == "anthropic"
        else wire_openai.response_from_wire
    )
    response = read(data, provider=provider, model_requested=request.model, request_id=request_id)
    elapsed = time.perf_counter() - started
    return replace(response, first_token_s=elapsed, latency_s=elapsed, native=content)


async def astream_native(
    client: _RawClient,
    request: CompletionRequest,
    *,
    protocol: WireProtocol,
    provider: str,
    sdk_errors: tuple[type[BaseException], ...],
    map_error: MapError,
) -> AsyncIterator[NativeEvent | StreamEnd]:
    """A streamed passthrough call: the upstream's SSE events, then one `StreamEnd`."""
    assert request.native is not None
    started = time.perf_counter()
    body, asked = _body(request, stream=True)
    try:
        raw: httpx2.Response = await client.post(
            _PATHS[protocol],
            cast_to=httpx2.Response,
            options={"headers": {**request.native.headers, **_RAW_STREAM}},
            **_payload(body),
        )
    except sdk_errors as e:
        raise map_error(e, provider=provider, model=request.model, in_stream=False) from e
    reader = _Reader(
        protocol, request, provider, started, raw.headers.get(_REQUEST_ID[protocol]), asked
    )
    splitter = SseSplitter()
    try:
        async for chunk in raw.aiter_bytes():
            # The events of one chunk go on as one (their bytes and text joined), so a chunk
            # of many — a busy gateway reads several at once — costs one pass through the
            # router and one write to the client. Terminal events stay apart: they are held.
            batch: list[NativeEvent] = []
            for sse in splitter.feed(chunk):
                try:
                    event = reader.event(sse)
                except Exception:
                    if batch:
                        yield _joined(batch)  # what came before the error, as before
                    raise
                if event is None:
                    continue
                if event.terminal:
                    if batch:
                        yield _joined(batch)
                        batch = []
                    yield event
                else:
                    batch.append(event)
            if batch:
                yield _joined(batch)
    except sdk_errors as e:
        raise map_error(
            e, provider=provider, model=request.model, in_stream=True, request_id=reader.request_id
        ) from e
    finally:
        await raw.aclose()
    if not reader.finished or splitter.rest().strip():
        raise reader._broken("the stream ended before its final event")
    yield StreamEnd(reader.response())
