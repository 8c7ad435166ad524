"""Any OpenAI-compatible Chat Completions endpoint through the official `openai` SDK.

OpenAI, Azure OpenAI (v1 API base URL), vLLM, Ollama, OpenRouter: only `base_url` and
the key differ. SDK retries are off (`max_retries=0`); SDK errors become
`phaseroute.errors` in `_map_error`, and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from phaseroute.errors import ProviderError
from phaseroute.providers._assemble import ContentAssembler
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    StreamEnd,
    StreamEvent,
    TextDelta,
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
from phaseroute.providers._openai_batch import OpenAIBatchAPI
from phaseroute.providers._passthrough import (
    acomplete_native,
    astream_native,
    passes_through,
    refuse_untranslatable,
)
from phaseroute.providers._secrets import Redactor
from phaseroute.wire import openai as wire

_SDK_ERRORS = (openai.OpenAIError, httpx2.HTTPError)


def _map_error(
    e: Exception, *, provider: str, model: str, in_stream: bool, request_id: str | None = None
) -> ProviderError:
    """The one place OpenAI SDK / transport errors become phaseroute errors."""
    if isinstance(e, openai.APIStatusError) and not in_stream:
        return error_for_status(
            e.status_code,
            provider=provider,
            model=model,
            error_type=e.type,
            error_code=e.code,
            message=_message(e.body) or e.message,
            headers=e.response.headers,
            request_id=e.request_id,
        )
    timed_out = really_timed_out(e, isinstance(e, openai.APITimeoutError | httpx2.TimeoutException))
    if in_stream:
        if isinstance(e, openai.APIConnectionError | httpx2.TransportError):
            what = "no data within the timeout" if timed_out else "connection lost"
        else:  # an error object inside the HTTP 200 stream
            kind = getattr(e, "type", None) or "error"
            what = f"error event {kind}: {_message(getattr(e, 'body', None)) or e}"
        return stream_broken(what, provider=provider, model=model, request_id=request_id)
    if isinstance(e, openai.APIConnectionError | httpx2.TransportError):
        return transport_error(timed_out, type(e).__name__, provider=provider, model=model)
    return stream_broken(
        f"unreadable response ({e})", provider=provider, model=model, request_id=request_id
    )


def _message(body: object) -> str | None:
    if isinstance(body, Mapping):
        message = body.get("message")
        return message if isinstance(message, str) else None
    return None


def _usage(u: CompletionUsage | None) -> Usage:
    return wire.usage_from_wire(None if u is None else u.model_dump())


@dataclass
class _StreamState:
    """What a chunk stream has said so far.

    The SDK swallows `data: [DONE]` and ends quietly without it, so completeness is judged
    from what precedes it: a `finish_reason`, and the usage chunk when usage was asked for.
    """

    request: CompletionRequest
    provider: str
    started: float
    request_id: str | None
    want_usage: bool
    model: str | None = None
    content: ContentAssembler = field(default_factory=ContentAssembler)
    usage: Usage | None = None
    finish_reason: str | None = None
    first_token_s: float | None = None
    refused: bool = False

    def _first(self) -> None:
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self.started

    def feed(self, chunk: ChatCompletionChunk) -> list[StreamEvent]:
        self.model = self.model or chunk.model or None
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        out: list[StreamEvent] = []
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            text = delta.content or delta.refusal
            if delta.refusal:
                self.refused = True
            if text:
                self._first()
                self.content.text("text", text)
                out.append(TextDelta(text))
            for call in delta.tool_calls or ():
                self._first()
                fn = call.function
                key = ("tool", call.index)
                if call.id or (fn is not None and fn.name):
                    n = self.content.tool_start(key, call.id or "", (fn.name if fn else None) or "")
                    out.append(ToolCallDelta(n, call.id, fn.name if fn else None, ""))
                arguments = fn.arguments if fn is not None else None
                if arguments:
                    n = self.content.tool_arguments(key, arguments)
                    out.append(ToolCallDelta(n, None, None, arguments))
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
        return out

    def finish(self) -> CompletionResponse:
        missing = (
            "a finish_reason"
            if self.finish_reason is None
            else "the usage chunk"
            if self.want_usage and self.usage is None
            else None
        )
        if missing:
            raise stream_broken(
                f"the stream ended without {missing} (cut off before [DONE])",
                provider=self.provider,
                model=self.request.model,
                request_id=self.request_id,
            )
        stop = wire.stop_reason_from_wire(self.finish_reason)
        return CompletionResponse(
            text=self.content.text_so_far,
            model_requested=self.request.model,
            model_reported=self.model or self.request.model,
            provider=self.provider,
            usage=self.usage or Usage(),
            stop_reason="refusal" if self.refused else stop,
            request_id=self.request_id,
            first_token_s=self.first_token_s,
            latency_s=time.perf_counter() - self.started,
            content=self.content.blocks(),
            stop_reason_raw=self.finish_reason,
        )


class OpenAICompatProvider:
    """Chat Completions on any OpenAI-compatible endpoint; sync and async, plain and streaming.

    `max_tokens_param` names the limit field ("max_completion_tokens" for OpenAI's reasoning
    models). `stream_usage=False` stops asking for the usage chunk, for servers that reject
    `stream_options`; streamed usage is then zero. `timeout` bounds every read (seconds).
    Use one provider's async methods from one event loop, and `await aclose()` when done.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        name: str = "openai",
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
        stream_usage: bool = True,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        timeout = check_seconds("OpenAICompatProvider(timeout=...)", timeout)
        self._name = name
        self._redact = Redactor.for_keys(api_key)
        self._max_tokens_param = max_tokens_param
        self._stream_usage = stream_usage
        self._client_args: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": 0,  # the router is the only retry loop
            "default_headers": dict(default_headers or {}),
        }
        # Both clients and their resources are built here, so no call pays for them
        # against its timeout.
        self._client = openai.OpenAI(**self._client_args)
        self._async: openai.AsyncOpenAI | None = self._new_async()
        _ = self._client.chat.completions, self._async.chat.completions

    @property
    def name(self) -> str:
        return self._name

    def _aclient(self) -> openai.AsyncOpenAI:
        if self._async is None:
            self._async = self._new_async()
        return self._async

    def _new_async(self) -> openai.AsyncOpenAI:
        # The SDK's aiohttp transport: a fraction of the default pool's work per call
        # under concurrency (see docs/benchmarks.md, "Gateway: latency added").
        return openai.AsyncOpenAI(**self._client_args, http_client=openai.DefaultAioHttpClient())

    def _params(self, request: CompletionRequest, stream: bool) -> dict[str, Any]:
        """The SDK call's arguments: the wire body from `phaseroute.wire.openai`."""
        params = wire.request_to_wire(request, max_tokens_param=self._max_tokens_param)
        if stream:
            params["stream"] = True
            if self._stream_usage:
                params["stream_options"] = {"include_usage": True}
        return params

    def _response(
        self, completion: ChatCompletion, request: CompletionRequest, started: float
    ) -> CompletionResponse:
        elapsed = time.perf_counter() - started
        response = wire.response_from_wire(
            completion.model_dump(),
            provider=self._name,
            model_requested=request.model,
            request_id=completion._request_id,
        )
        # The first token arrives with the whole answer.
        return replace(response, first_token_s=elapsed, latency_s=elapsed)

    def _error(self, e: Exception, request: CompletionRequest, **kw: Any) -> ProviderError:
        mapped = _map_error(e, provider=self._name, model=request.model, **kw)
        return scrubbed(mapped, e, self._redact)

    def complete(self, request: CompletionRequest) -> CompletionResponse:
        started = time.perf_counter()
        try:
            completion = self._client.chat.completions.create(**self._params(request, False))
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        return self._response(completion, request, started)

    async def acomplete(self, request: CompletionRequest) -> CompletionResponse:
        if passes_through(request, "openai"):
            return await acomplete_native(self._aclient(), request, **self._native_args())
        refuse_untranslatable(request, "openai", self._name)
        started = time.perf_counter()
        try:
            completion = await self._aclient().chat.completions.create(
                **self._params(request, False)
            )
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        return self._response(completion, request, started)

    def stream(self, request: CompletionRequest) -> Iterator[StreamEvent]:
        started = time.perf_counter()
        try:
            chunks = self._client.chat.completions.create(**self._params(request, True))
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        state = _StreamState(
            request,
            self._name,
            started,
            chunks.response.headers.get("x-request-id"),
            self._stream_usage,
        )
        with chunks:
            try:
                for chunk in chunks:
                    yield from state.feed(chunk)
            except _SDK_ERRORS as e:
                raise self._error(e, request, in_stream=True, request_id=state.request_id) from e
        yield StreamEnd(state.finish())

    async def astream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        if passes_through(request, "openai"):
            async for event in astream_native(self._aclient(), request, **self._native_args()):
                yield event
            return
        refuse_untranslatable(request, "openai", self._name)
        started = time.perf_counter()
        try:
            chunks = await self._aclient().chat.completions.create(**self._params(request, True))
        except _SDK_ERRORS as e:
            raise self._error(e, request, in_stream=False) from e
        state = _StreamState(
            request,
            self._name,
            started,
            chunks.response.headers.get("x-request-id"),
            self._stream_usage,
        )
        async with chunks:
            try:
                async for chunk in chunks:
                    for out in state.feed(chunk):
                        yield out
            except _SDK_ERRORS as e:
                raise self._error(e, request, in_stream=True, request_id=state.request_id) from e
        yield StreamEnd(state.finish())

    def _native_args(self) -> dict[str, Any]:
        return {
            "protocol": "openai",
            "provider": self._name,
            "sdk_errors": _SDK_ERRORS,
            "map_error": _map_error,
        }

    def _batch_error(self, e: Exception, model: str) -> ProviderError:
        """A batch call's SDK error, mapped (and cleaned) like a live call's."""
        return self._error(e, CompletionRequest(model=model, messages=()), in_stream=False)

    def batch_api(self) -> OpenAIBatchAPI:
        """The Batch API (with Files) on this provider's client."""
        return OpenAIBatchAPI(
            self._name, self._client, self._batch_error, self._redact, self._max_tokens_param
        )

    def close(self) -> None:
        """Close the sync client (the async one, if used, needs `await aclose()`)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        self._client.close()
        if self._async is not None:
            await self._async.close()
