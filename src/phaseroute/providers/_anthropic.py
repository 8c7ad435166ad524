"""The Anthropic Messages API through the official `anthropic` SDK.

The SDK's own retries are off (`max_retries=0`): the router is the only retry loop, or
retries multiply. SDK errors become `phaseroute.errors` in `_map_error`, and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message as SdkMessage
from anthropic.types import RawMessageStreamEvent

from phaseroute.errors import ProviderError
from phaseroute.providers._anthropic_batch import AnthropicBatchAPI
from phaseroute.providers._assemble import ContentAssembler
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)
from phaseroute.providers._durations import check_seconds
from phaseroute.providers._http_errors import (
    error_for_status,
    really_timed_out,
    scrubbed,
    stream_broken,
    transport_error,
)
from phaseroute.providers._passthrough import (
    acomplete_native,
    astream_native,
    passes_through,
    refuse_untranslatable,
)
from phaseroute.providers._secrets import Redactor
from phaseroute.wire import anthropic as wire

_SDK_ERRORS = (anthropic.AnthropicError, httpx2.HTTPError)


def _map_error(
    e: Exception, *, provider: str, model: str, in_stream: bool, request_id: str | None = None
) -> ProviderError:
    """The one place Anthropic SDK / transport errors become phaseroute errors."""
    if isinstance(e, anthropic.APIStatusError):
        if in_stream or e.status_code < 400:
            return stream_broken(
                f"error event {e.type or 'error'}: {e.api_message or e.message}",
                provider=provider,
                model=model,
                request_id=e.request_id or request_id,
            )
        return error_for_status(
            e.status_code,
            provider=provider,
            model=model,
            error_type=e.type,
            error_code=e.error_code,
            message=e.api_message,
            headers=e.response.headers,
            request_id=e.request_id,
        )
    timed_out = really_timed_out(
        e, isinstance(e, anthropic.APITimeoutError | httpx2.TimeoutException)
    )
    if in_stream:
        what = "no data within the timeout" if timed_out else f"connection lost ({e})"
        return stream_broken(what, provider=provider, model=model, request_id=request_id)
    if isinstance(e, anthropic.APIConnectionError | httpx2.TransportError):
        return transport_error(timed_out, type(e).__name__, provider=provider, model=model)
    # A response the SDK could not read (e.g. not the Messages schema).
    return stream_broken(
        f"unreadable response ({e})", provider=provider, model=model, request_id=request_id
    )


# Body fields this SDK release takes as keyword arguments; the rest go in `extra_body`.
_SDK_KWARGS = frozenset(
    {"model", "max_tokens", "messages", "system", "stop_sequences", "tools", "tool_choice",
     "thinking", "metadata"}
)  # fmt: skip


def _params(request: CompletionRequest) -> dict[str, Any]:
    """The SDK call's arguments: the wire body from `phaseroute.wire.anthropic`."""
    body = wire.request_to_wire(request)
    params = {k: v for k, v in body.items() if k in _SDK_KWARGS}
    extra = {k: v for k, v in body.items() if k not in _SDK_KWARGS}
    if extra:
        # This SDK release models no sampling parameters; send them as the wire fields they are.
        params["extra_body"] = extra
    return params


def _response(
    message: SdkMessage, request: CompletionRequest, provider: str, started: float
) -> CompletionResponse:
    elapsed = time.perf_counter() - started
    response = wire.response_from_wire(
        message.model_dump(),
        provider=provider,
        model_requested=request.model,
        request_id=message._request_id,
    )
    # The first token arrives with the whole answer.
    return replace(response, first_token_s=elapsed, latency_s=elapsed)


@dataclass
class _StreamState:
    """What a Messages stream has said so far; complete only after `message_stop`."""

    request: CompletionRequest
    provider: str
    started: float
    request_id: str | None
    model: str | None = None
    content: ContentAssembler = field(default_factory=ContentAssembler)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    first_token_s: float | None = None
    stopped: bool = False

    def _first(self) -> None:
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self.started

    def feed(self, event: RawMessageStreamEvent) -> StreamEvent | None:
        if event.type == "message_start":
            self.model = event.message.model
            self.usage = wire.usage_from_wire(event.message.usage.model_dump())
        elif event.type == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                self._first()
                n = self.content.tool_start(event.index, block.id, block.name)
                return ToolCallDelta(n, block.id, block.name, "")
            if block.type == "redacted_thinking":
                self.content.redacted(event.index, block.data)
            elif block.type == "text" and block.text:
                self._first()
                self.content.text(event.index, block.text)
                return TextDelta(block.text)
        elif event.type == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                self._first()
                self.content.text(event.index, delta.text)
                return TextDelta(delta.text)
            if delta.type == "input_json_delta":
                n = self.content.tool_arguments(event.index, delta.partial_json)
                return ToolCallDelta(n, None, None, delta.partial_json)
            if delta.type == "thinking_delta":
                self._first()
                self.content.thinking(event.index, delta.thinking)
                return ThinkingDelta(delta.thinking)
            if delta.type == "signature_delta":
                self.content.signature(event.index, delta.signature)
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            d = event.usage  # cumulative; input counts are present only on some servers
            self.usage = Usage(
                input_tokens=self.usage.input_tokens if d.input_tokens is None else d.input_tokens,
                output_tokens=d.output_tokens,
                cache_read_tokens=self.usage.cache_read_tokens
                if d.cache_read_input_tokens is None
                else d.cache_read_input_tokens,
                cache_write_tokens=self.usage.cache_write_tokens
                if d.cache_creation_input_tokens is None
                else d.cache_creation_input_tokens,
            )
        elif event.type == "message_stop":
            self.stopped = True
        return None

    def finish(self) -> CompletionResponse:
        if not self.stopped:
            raise stream_broken(
                "the stream ended before message_stop",
                provider=self.provider,
                model=self.request.model,
                request_id=self.request_id,
            )
        return CompletionResponse(
            text=self.content.text_so_far,
            model_requested=self.request.model,
            model_reported=self.model or self.request.model,
            provider=self.provider,
            usage=self.usage,
            stop_reason=wire.stop_reason_from_wire(self.stop_reason),
            request_id=self.request_id,
            first_token_s=self.first_token_s,
            latency_s=time.perf_counter() - self.started,
            content=self.content.blocks(),
            stop_reason_raw=self.stop_reason,
        )


class AnthropicProvider:
    """Claude models over the Messages API; sync and async, plain and streaming.

    `timeout` bounds every read (seconds), so a hung connection fails as `ProviderTimeout`.
    Use one provider's async methods from one event loop, and `await aclose()` when done.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        name: str = "anthropic",
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        timeout = check_seconds("AnthropicProvider(timeout=...)", timeout)
        self._name = name
        self._redact = Redactor.for_keys(api_key)
        self._client_args: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": 0,  # the router is the only retry loop
            "default_headers": dict(default_headers or {}),
        }
        # Both clients and their resources are built here, so no call pays for them
        # against its timeout.
        self._client = anthropic.Anthropic(**self._client_args)
        self._async: anthropic.AsyncAnthropic | None = self._new_async()
        _ = self._client.messages, self._async.messages

    @property
    def name(self) -> str:
        return self._name

    def _aclient(self) -> anthropic.AsyncAnthropic:
        if self._async is None:
            self._async = self._new_async()
        return self._async

    def _new_async(self) -> anthropic.AsyncAnthropic:
        # The SDK's aiohttp transport: a fraction of the default pool's work per call
        # under concurrency (see docs/benchmarks.md, "Gateway: latency added").
        return anthropic.AsyncAnthropic(
            **self._client_args, http_client=anthropic.DefaultAioHttpClient()
        )

    def _error(self, e: Exception, request: CompletionRequest, **kw: Any) -> ProviderError:
        mapped = _map_error(e, provider=self._name, model=request.model, **kw)
        return scrubbed(mapped, e, self._redact)

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        started = time.perf_counter()
        try:
            message = self._client.messages.create(**_params(request))
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        return _response(message, request, self._name, started)

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        if passes_through(request, "anthropic"):
            return await acomplete_native(self._aclient(), request, **self._native_args())
        refuse_untranslatable(request, "anthropic", self._name)
        started = time.perf_counter()
        try:
            message = await self._aclient().messages.create(**_params(request))
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        return _response(message, request, self._name, started)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        started = time.perf_counter()
        try:
            events = self._client.messages.create(**_params(request), stream=True)
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        state = _StreamState(
            request, self._name, started, events.response.headers.get("request-id")
        )
        with events:
            try:
                for event in events:
                    out = state.feed(event)
                    if out is not None:
                        yield out
            except _SDK_ERRORS as e:
                raise self._error(e, request, in_stream=True, request_id=state.request_id) from e
        yield StreamEnd(state.finish())

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        if passes_through(request, "anthropic"):
            async for event in astream_native(self._aclient(), request, **self._native_args()):
                yield event
            return
        refuse_untranslatable(request, "anthropic", self._name)
        started = time.perf_counter()
        try:
            events = await self._aclient().messages.create(**_params(request), stream=True)
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        state = _StreamState(
            request, self._name, started, events.response.headers.get("request-id")
        )
        async with events:
            try:
                async for event in events:
                    out = state.feed(event)
                    if out is not None:
                        yield out
            except _SDK_ERRORS as e:
                raise self._error(e, request, in_stream=True, request_id=state.request_id) from e
        yield StreamEnd(state.finish())

    def _native_args(self) -> dict[str, Any]:
        return {
            "protocol": "anthropic",
            "provider": self._name,
            "sdk_errors": _SDK_ERRORS,
            "map_error": _map_error,
        }

    def _batch_error(self, e: Exception, model: str) -> ProviderError:
        """A batch call's SDK error, mapped (and cleaned) like a live call's."""
        return self._error(e, CompletionRequest(model=model, messages=()), in_stream=False)

    def batch_api(self) -> AnthropicBatchAPI:
        """The Message Batches API on this provider's client."""
        return AnthropicBatchAPI(self._name, self._client, self._batch_error, self._redact)

    def close(self) -> None:
        """Close the sync client (the async one, if used, needs `await aclose()`)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        self._client.close()
        if self._async is not None:
            await self._async.close()
