"""The Anthropic Messages API through the official `anthropic` SDK.

The SDK's own retries are off (`max_retries=0`): the router is the only retry loop, or
retries multiply. SDK errors become `phaseroute.errors` in `_map_error`, and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message as SdkMessage
from anthropic.types import RawMessageStreamEvent

from phaseroute.errors import ProviderError
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
)
from phaseroute.providers._http_errors import error_for_status, stream_broken, transport_error
from phaseroute.providers._passthrough import acomplete_native, astream_native, passes_through

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
    timed_out = isinstance(e, anthropic.APITimeoutError | httpx2.TimeoutException)
    if in_stream:
        what = "no data within the timeout" if timed_out else f"connection lost ({e})"
        return stream_broken(what, provider=provider, model=model, request_id=request_id)
    if isinstance(e, anthropic.APIConnectionError | httpx2.TransportError):
        return transport_error(timed_out, type(e).__name__, provider=provider, model=model)
    # A response the SDK could not read (e.g. not the Messages schema).
    return stream_broken(
        f"unreadable response ({e})", provider=provider, model=model, request_id=request_id
    )


def _params(request: CompletionRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.system is not None:
        params["system"] = request.system
    if request.temperature is not None:
        # This SDK release models no sampling parameters; send it as the wire field it is.
        params["extra_body"] = {"temperature": request.temperature}
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    return params


def _response(
    message: SdkMessage, request: CompletionRequest, provider: str, started: float
) -> CompletionResponse:
    elapsed = time.perf_counter() - started
    usage = message.usage
    return CompletionResponse(
        text="".join(block.text for block in message.content if block.type == "text"),
        model_requested=request.model,
        model_reported=message.model,
        provider=provider,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        ),
        stop_reason=message.stop_reason,
        request_id=message._request_id,
        first_token_s=elapsed,  # the first token arrives with the whole answer
        latency_s=elapsed,
    )


@dataclass
class _StreamState:
    """What a Messages stream has said so far; complete only after `message_stop`."""

    request: CompletionRequest
    provider: str
    started: float
    request_id: str | None
    model: str | None = None
    parts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    first_token_s: float | None = None
    stopped: bool = False

    def feed(self, event: RawMessageStreamEvent) -> str | None:
        if event.type == "message_start":
            self.model = event.message.model
            u = event.message.usage
            self.usage = Usage(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_read_tokens=u.cache_read_input_tokens or 0,
                cache_write_tokens=u.cache_creation_input_tokens or 0,
            )
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            if self.first_token_s is None:
                self.first_token_s = time.perf_counter() - self.started
            self.parts.append(event.delta.text)
            return event.delta.text
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
            text="".join(self.parts),
            model_requested=self.request.model,
            model_reported=self.model or self.request.model,
            provider=self.provider,
            usage=self.usage,
            stop_reason=self.stop_reason,
            request_id=self.request_id,
            first_token_s=self.first_token_s,
            latency_s=time.perf_counter() - self.started,
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
        self._name = name
        self._client_args: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": 0,  # the router is the only retry loop
            "default_headers": dict(default_headers or {}),
        }
        self._client = anthropic.Anthropic(**self._client_args)
        self._async: anthropic.AsyncAnthropic | None = None

    @property
    def name(self) -> str:
        return self._name

    def _aclient(self) -> anthropic.AsyncAnthropic:
        if self._async is None:
            self._async = anthropic.AsyncAnthropic(**self._client_args)
        return self._async

    def _error(self, e: Exception, request: CompletionRequest, **kw: Any) -> ProviderError:
        return _map_error(e, provider=self._name, model=request.model, **kw)

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
                    text = state.feed(event)
                    if text:
                        yield TextDelta(text)
            except _SDK_ERRORS as e:
                raise self._error(e, request, in_stream=True, request_id=state.request_id) from e
        yield StreamEnd(state.finish())

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        if passes_through(request, "anthropic"):
            async for event in astream_native(self._aclient(), request, **self._native_args()):
                yield event
            return
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
                    text = state.feed(event)
                    if text:
                        yield TextDelta(text)
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

    def close(self) -> None:
        """Close the sync client (the async one, if used, needs `await aclose()`)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        self._client.close()
        if self._async is not None:
            await self._async.close()
