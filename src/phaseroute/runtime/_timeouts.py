"""One bounded attempt against a provider: a hung upstream costs at most its timeout.

Sync calls run on a worker thread so the caller can stop waiting (the worker is abandoned,
and finishes when the provider's own timeout fires); async calls are cancelled. Streams are
pumped by a worker into a queue, so waiting for the next event is bounded too.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

from phaseroute.errors import IncompleteResponse, ProviderError, ProviderTimeout
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    Provider,
    StreamEnd,
    StreamEvent,
)


def _timeout(provider: Provider, request: CompletionRequest, seconds: float) -> ProviderTimeout:
    return ProviderTimeout(
        f"no answer from {request.model} within {seconds:.3g}s",
        provider=provider.name,
        model=request.model,
    )


def checked(provider: Provider, response: CompletionResponse) -> CompletionResponse:
    """A response that says it is incomplete is an error, never an answer."""
    if not response.complete:
        raise IncompleteResponse(
            f"{response.model_requested}: the answer was cut off (stop reason "
            f"{response.stop_reason!r})",
            provider=provider.name,
            model=response.model_requested,
            request_id=response.request_id,
        )
    return response


class Workers:
    """The worker threads that carry sync attempts; one pool per router, made on first use."""

    def __init__(self, max_workers: int = 64) -> None:
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self._max_workers, thread_name_prefix="phaseroute-attempt"
                    )
                pool = self._pool
        return pool

    def complete(
        self, provider: Provider, request: CompletionRequest, timeout: float | None
    ) -> CompletionResponse:
        if timeout is None:
            return checked(provider, provider.complete(request))
        fut: Future[CompletionResponse] = self.pool().submit(provider.complete, request)
        try:
            return checked(provider, fut.result(timeout))
        except FutureTimeout:
            fut.cancel()
            raise _timeout(provider, request, timeout) from None

    def open_stream(
        self, provider: Provider, request: CompletionRequest, timeout: float | None
    ) -> SyncEventStream:
        """Start the stream and wait (bounded) for its first event."""
        stream = SyncEventStream(provider, request)
        self.pool().submit(stream.pump)
        stream.prime(timeout)
        return stream

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


async def acomplete(
    provider: Provider, request: CompletionRequest, timeout: float | None
) -> CompletionResponse:
    # `asyncio.timeout` bounds the await in this task; `wait_for` would wrap every call in
    # a task of its own, whose allocations set off a garbage collection every few calls
    # under concurrency.
    try:
        async with asyncio.timeout(timeout):
            response = await provider.acomplete(request)
    except TimeoutError:
        raise _timeout(provider, request, timeout or 0.0) from None
    return checked(provider, response)


_DONE = object()


def _broke_off(provider: Provider, request: CompletionRequest, e: ProviderError) -> Exception:
    return IncompleteResponse(
        f"{request.model}: the stream broke off: {type(e).__name__}: {e}",
        provider=provider.name,
        model=request.model,
        status_code=e.status_code,
        request_id=e.request_id,
    )


class Deadline(Protocol):
    """The bound of a whole call (a `CallState` is one): its length and the time left."""

    @property
    def policy(self) -> _HasDeadline: ...

    def remaining(self) -> float: ...


class _HasDeadline(Protocol):
    @property
    def deadline_s(self) -> float: ...


def _wait(idle_timeout: float | None, deadline: Deadline) -> tuple[float, bool]:
    """How long to wait for the next event, and whether the call's deadline is what bounds
    it: a stream that keeps trickling must still end by the deadline."""
    left = max(deadline.remaining(), 0.0)
    if idle_timeout is None or left <= idle_timeout:
        return left, True
    return idle_timeout, False


def _past_deadline(
    provider: Provider, request: CompletionRequest, deadline: Deadline
) -> IncompleteResponse:
    return IncompleteResponse(
        f"{request.model}: the stream was still running at the call's deadline of "
        f"{deadline.policy.deadline_s:g}s",
        provider=provider.name,
        model=request.model,
    )


class SyncEventStream:
    """A provider stream pumped by a worker thread; every wait for an event is bounded."""

    def __init__(self, provider: Provider, request: CompletionRequest) -> None:
        self.provider = provider
        self.request = request
        self._queue: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self.first: StreamEvent | None = None

    def pump(self) -> None:
        events = self.provider.stream(self.request)
        try:
            for event in events:
                self._queue.put(event)
                if self._stop.is_set():
                    return
            self._queue.put(_DONE)
        except BaseException as e:  # handed to the consumer, who decides
            self._queue.put(e)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _next(self, timeout: float | None) -> StreamEvent | None:
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            self.cancel()
            raise _timeout(self.provider, self.request, timeout or 0.0) from None
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]

    def prime(self, timeout: float | None) -> None:
        """Wait for the first event; errors here are still worth a retry."""
        first = self._next(timeout)
        if first is None:
            raise IncompleteResponse(
                f"{self.request.model}: the stream ended before any event",
                provider=self.provider.name,
                model=self.request.model,
            )
        self.first = first

    def events(self, idle_timeout: float | None, deadline: Deadline) -> Iterator[StreamEvent]:
        """The rest of the stream; a cut-off, a stall, an error or a stream still running
        at the call's deadline is `IncompleteResponse`."""
        assert self.first is not None
        event: StreamEvent | None = self.first
        try:
            while event is not None:
                yield event
                if isinstance(event, StreamEnd):
                    return
                wait, bounded_by_deadline = _wait(idle_timeout, deadline)
                try:
                    event = self._next(wait)
                except IncompleteResponse:
                    raise
                except ProviderTimeout as e:
                    if bounded_by_deadline:
                        raise _past_deadline(self.provider, self.request, deadline) from None
                    raise _broke_off(self.provider, self.request, e) from e
                except ProviderError as e:
                    raise _broke_off(self.provider, self.request, e) from e
            raise IncompleteResponse(
                f"{self.request.model}: the stream ended without its final event",
                provider=self.provider.name,
                model=self.request.model,
            )
        finally:
            self.cancel()

    def cancel(self) -> None:
        self._stop.set()


class AsyncEventStream:
    """A provider's async stream with bounded waits, primed with its first event."""

    def __init__(self, provider: Provider, request: CompletionRequest) -> None:
        self.provider = provider
        self.request = request
        self._events: AsyncIterator[StreamEvent] = provider.astream(request)
        self.first: StreamEvent | None = None

    async def _next(self, timeout: float | None) -> StreamEvent | None:
        try:
            async with asyncio.timeout(timeout):
                return await anext(self._events)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            await self.aclose()
            raise _timeout(self.provider, self.request, timeout or 0.0) from None

    async def prime(self, timeout: float | None) -> None:
        try:
            first = await self._next(timeout)
        except BaseException:
            await self.aclose()
            raise
        if first is None:
            raise IncompleteResponse(
                f"{self.request.model}: the stream ended before any event",
                provider=self.provider.name,
                model=self.request.model,
            )
        self.first = first

    async def events(
        self, idle_timeout: float | None, deadline: Deadline
    ) -> AsyncIterator[StreamEvent]:
        assert self.first is not None
        event: StreamEvent | None = self.first
        try:
            while event is not None:
                yield event
                if isinstance(event, StreamEnd):
                    return
                wait, bounded_by_deadline = _wait(idle_timeout, deadline)
                try:
                    event = await self._next(wait)
                except IncompleteResponse:
                    raise
                except ProviderTimeout as e:
                    if bounded_by_deadline:
                        raise _past_deadline(self.provider, self.request, deadline) from None
                    raise _broke_off(self.provider, self.request, e) from e
                except ProviderError as e:
                    raise _broke_off(self.provider, self.request, e) from e
            raise IncompleteResponse(
                f"{self.request.model}: the stream ended without its final event",
                provider=self.provider.name,
                model=self.request.model,
            )
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        close = getattr(self._events, "aclose", None)
        if close is not None:
            try:
                await close()
            except RuntimeError:  # already running/closed elsewhere: nothing left to release
                return
