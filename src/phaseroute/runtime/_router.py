"""The router: the routing plan enforced where calls happen.

``complete(workflow, phase, messages)`` takes the phase's decision from the compiled plan,
walks its model chain through the retry/fallback wrapper, validates and escalates where
the phase declares it, prices and records the answer, audit-records it when the phase
requires, and returns it with everything that explains it. A phase that cannot get its
tier raises `RoutingUnavailable` — unless the policy allows a degraded route, which is
then recorded on the result, in the ledger and in the audit entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from phaseroute.costs import PriceBook
from phaseroute.policy import load_plan
from phaseroute.providers._base import CompletionRequest, Provider, ThinkingConfig
from phaseroute.providers._batch import BatchStatus
from phaseroute.runtime._accounting import (
    AuditSink,
)
from phaseroute.runtime._batches import BatchCollection, BatchHandle, BatchRunner
from phaseroute.runtime._engine import RoutingEngine
from phaseroute.runtime._event_stream import AsyncRoutedEventStream
from phaseroute.runtime._ledger import UsageLedger
from phaseroute.runtime._providers import (
    build_providers,
    close_provider,
    database_location,
    open_audit,
)
from phaseroute.runtime._request import (
    MessageLike,
    SystemLike,
    ToolChoiceLike,
    ToolLike,
)
from phaseroute.runtime._result import (
    RoutedResponse,
)
from phaseroute.runtime._retry import Exhausted
from phaseroute.runtime._stream import AsyncRoutedStream, RoutedStream
from phaseroute.storage.database import open_engine


def _close_observer(observer: object) -> None:
    close = getattr(observer, "close", None)
    if close is not None:
        close()


def _options(
    stop_sequences: Iterable[str] | None,
    tools: Iterable[ToolLike] | None,
    tool_choice: ToolChoiceLike | None,
    parallel_tool_calls: bool | None,
    top_p: float | None,
    top_k: int | None,
    thinking: ThinkingConfig | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The request options beyond the basic ones, in either SDK's spelling."""
    return {
        "stop_sequences": stop_sequences,
        "tools": tools,
        "tool_choice": tool_choice,
        "parallel_tool_calls": parallel_tool_calls,
        "top_p": top_p,
        "top_k": top_k,
        "thinking": thinking,
    }


class Router(RoutingEngine):
    """Routes calls of a workflow's phases to the models the plan decided; thread- and
    asyncio-safe (per-call state lives on the call, shared state is locked or immutable).

    Construct with `Router.from_policy(path)`, or `Router(plan, providers, ...)` to inject
    providers, prices, ledger, audit sink, clock and RNG (see `RoutingEngine`).
    """

    @classmethod
    def from_policy(
        cls,
        path: str | Path,
        *,
        providers: Mapping[str, Provider] | None = None,
        database: str | Path | UsageLedger | None = None,
        audit: AuditSink | None = None,
        build_providers_now: bool = True,
        **kwargs: Any,
    ) -> Router:
        """A router for the policy at `path`: providers built from its `providers` section
        (entries of `providers` replace them by name, e.g. fakes or replay), usage recorded
        in `database` (default: the policy's `database`, else phaseroute.db beside it).

        Providers are built here, before any call's clock starts. `build_providers_now=False`
        leaves them to each provider's `warm()` (the gateway runs it off the event loop once
        it listens, and takes no call before it is done)."""
        plan = load_plan(path)
        built = build_providers(plan, providers or {}, build_now=build_providers_now)
        location = (
            database_location(plan, database) if not isinstance(database, UsageLedger) else None
        )
        ledger = database if isinstance(database, UsageLedger) else UsageLedger.open(location)
        if audit is None and any(d.record for d in plan):
            audit = open_audit(plan, location if location is not None else ledger.url)
        router = cls(
            plan,
            built,
            prices=PriceBook.from_policy(plan.policy),
            ledger=ledger,
            audit=audit,
            **kwargs,
        )
        if any(
            p.shadow is not None for w in plan.policy.workflows.values() for p in w.phases.values()
        ):
            # The policy asks for production checks: shadow calls and the drift watch. (The
            # monitor loads the statistics stack, seconds of imports: only when asked for.)
            from phaseroute.monitor import MonitorStore, ProductionMonitor  # noqa: PLC0415

            store = MonitorStore(open_engine(location if location is not None else ledger.url))
            ProductionMonitor(plan, store).attach(router)
        return router

    def close(self) -> None:
        """Finish queued shadow work, flush the ledger, close the audit trail and every
        provider."""
        self._workers.close()
        _close_observer(self.observer)
        try:
            if self.ledger is not None:
                self.ledger.close()
        finally:
            close = getattr(self.audit, "close", None)
            if close is not None:
                close()
            for provider in self.providers.values():
                provider.close()

    async def aclose(self) -> None:
        """`close()` for routers used from asyncio: also closes providers' async clients."""
        self._workers.close()
        await asyncio.to_thread(_close_observer, self.observer)
        try:
            if self.ledger is not None:
                await asyncio.to_thread(self.ledger.close)
        finally:
            close = getattr(self.audit, "close", None)
            if close is not None:
                await asyncio.to_thread(close)
            for provider in self.providers.values():
                await close_provider(provider)

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        *,
        system: SystemLike | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] | str | None = None,
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        stop_sequences: Iterable[str] | None = None,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        parallel_tool_calls: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        thinking: ThinkingConfig | Mapping[str, Any] | None = None,
    ) -> RoutedResponse:
        """Route one call of `workflow`/`phase` and return the answer with its history.

        `messages` may use either SDK's dialect: Anthropic content blocks (text, image,
        document, tool_use, tool_result, thinking) or OpenAI messages (a leading system
        message, image_url parts, assistant tool_calls, role "tool" results). The stop
        parameter is `stop` or `stop_sequences`; `tools` take `ToolSpec`s or either SDK's
        tool dicts; `tool_choice` a `ToolChoice`, "auto"/"any"/"required"/"none" or either
        SDK's dict. The answer's blocks (text, tool calls) are on `.response.content`."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata,
            options=_options(
                stop_sequences, tools, tool_choice, parallel_tool_calls, top_p, top_k, thinking
            ),
        )  # fmt: skip
        return self._complete_call(call)[1]

    async def acomplete(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        *,
        system: SystemLike | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] | str | None = None,
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        stop_sequences: Iterable[str] | None = None,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        parallel_tool_calls: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        thinking: ThinkingConfig | Mapping[str, Any] | None = None,
    ) -> RoutedResponse:
        """The async twin of `complete`."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata,
            options=_options(
                stop_sequences, tools, tool_choice, parallel_tool_calls, top_p, top_k, thinking
            ),
        )  # fmt: skip
        return (await self._acomplete_call(call))[1]

    def call_model(
        self,
        model_name: str,
        request: CompletionRequest,
        *,
        workflow: str = "(direct)",
        phase: str | None = None,
        shadow: bool = False,
    ) -> RoutedResponse:
        """Call one catalogue model with retries and accounting but no routing: no fallback,
        no escalation (measurement compares exact models). `request.model` is replaced by
        the catalogue id. On failure the last provider error is raised. `shadow=True` books
        the call as a shadow comparison (ledger outcome ``shadow``), never as routed traffic."""
        call = self._direct(model_name, request, workflow, phase)
        try:
            billed = self._serve(call, (call.decision.model,))
        except Exhausted:
            raise self._last_error(call) from None
        return self._finish(call, billed, "shadow" if shadow else "served")

    async def acall_model(
        self,
        model_name: str,
        request: CompletionRequest,
        *,
        workflow: str = "(direct)",
        phase: str | None = None,
        shadow: bool = False,
    ) -> RoutedResponse:
        """The async twin of `call_model`."""
        call = self._direct(model_name, request, workflow, phase)
        try:
            billed = await self._aserve(call, (call.decision.model,))
        except Exhausted:
            raise self._last_error(call) from None
        return self._finish(call, billed, "shadow" if shadow else "served")

    def stream(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        *,
        system: SystemLike | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] | str | None = None,
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        stop_sequences: Iterable[str] | None = None,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        parallel_tool_calls: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        thinking: ThinkingConfig | Mapping[str, Any] | None = None,
    ) -> RoutedStream:
        """Route one call and stream its text. Iterate for deltas; `.result` is the
        `RoutedResponse` once the stream completed. See `RoutedStream` for the rules."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata,
            stream=True,
            options=_options(
                stop_sequences, tools, tool_choice, parallel_tool_calls, top_p, top_k, thinking
            ),
        )  # fmt: skip
        return RoutedStream(self, call)

    def astream(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        *,
        system: SystemLike | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] | str | None = None,
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        stop_sequences: Iterable[str] | None = None,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        parallel_tool_calls: bool | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        thinking: ThinkingConfig | Mapping[str, Any] | None = None,
    ) -> AsyncRoutedStream:
        """The async twin of `stream`: ``async for delta in router.astream(...)``."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata,
            stream=True,
            options=_options(
                stop_sequences, tools, tool_choice, parallel_tool_calls, top_p, top_k, thinking
            ),
        )  # fmt: skip
        return AsyncRoutedStream(self, call)

    async def acomplete_request(
        self,
        workflow: str,
        phase: str,
        request: CompletionRequest,
        *,
        case_id: str | None = None,
        caller_key_id: str | None = None,
    ) -> RoutedResponse:
        """Route a request built elsewhere (e.g. translated from a wire protocol by the
        gateway); `request.model` is ignored — the plan chooses. Cancelling the awaiting
        task cancels the upstream call and records it in the ledger as cancelled."""
        call = self._call_for_request(
            workflow, phase, request, case_id=case_id, caller_key_id=caller_key_id, stream=False
        )
        return (await self._acomplete_call(call))[1]

    def astream_request(
        self,
        workflow: str,
        phase: str,
        request: CompletionRequest,
        *,
        case_id: str | None = None,
        caller_key_id: str | None = None,
    ) -> AsyncRoutedEventStream:
        """Stream a request built elsewhere, event by event; the final `StreamEnd` comes only
        after the answer is recorded (see `AsyncRoutedEventStream`)."""
        call = self._call_for_request(
            workflow, phase, request, case_id=case_id, caller_key_id=caller_key_id, stream=True
        )
        return AsyncRoutedEventStream(self, call)

    # ------------------------------------------------------------------ batches

    def submit_batch(
        self, workflow: str, phase: str, requests: Iterable[Mapping[str, Any]]
    ) -> BatchHandle:
        """Send `requests` of a batch-tolerant phase (`batch: true`) as one batch to the
        phase's primary model, through the provider's batch API (Anthropic Message Batches,
        OpenAI Batch). Each request is a mapping with `messages` and the keyword arguments
        of `complete` (`system`, `max_tokens`, `tools`, ...), plus an optional `custom_id`
        (default: its index) and `case_id`. The handle serialises (`to_json`) for later."""
        return BatchRunner(self).submit(workflow, phase, requests)

    async def asubmit_batch(
        self, workflow: str, phase: str, requests: Iterable[Mapping[str, Any]]
    ) -> BatchHandle:
        """`submit_batch` off the event loop (a batch API call is one short HTTP request)."""
        items = list(requests)
        return await asyncio.to_thread(self.submit_batch, workflow, phase, items)

    async def abatch_status(self, handle: BatchHandle) -> BatchStatus:
        """`batch_status` off the event loop."""
        return await asyncio.to_thread(self.batch_status, handle)

    async def acollect(self, handle: BatchHandle, *, retry: bool = True) -> BatchCollection:
        """`collect` off the event loop (retries run as ordinary sync routed calls there)."""
        return await asyncio.to_thread(self.collect, handle, retry=retry)

    def call_model_batch(
        self,
        model_name: str,
        requests: Sequence[CompletionRequest],
        *,
        workflow: str = "(direct)",
        phase: str | None = None,
        poll_s: float = 30.0,
        timeout_s: float = 24 * 3600.0,
    ) -> list[RoutedResponse]:
        """`call_model` for many requests of one model as one batch (provider batch API,
        batch prices), waiting for it (`poll_s` between status reads, at most `timeout_s`);
        requests the batch could not answer are called live. Answers come in request order."""
        return BatchRunner(self).call_model_batch(
            model_name, requests, workflow, phase, poll_s, timeout_s
        )

    def batch_status(self, handle: BatchHandle) -> BatchStatus:
        """Where the batch is; `.done` once it has ended, expired or been canceled."""
        return BatchRunner(self).status(handle)

    def cancel_batch(self, handle: BatchHandle) -> BatchStatus:
        """Ask the provider to cancel what has not run yet."""
        return BatchRunner(self).cancel(handle)

    def collect(self, handle: BatchHandle, *, retry: bool = True) -> BatchCollection:
        """Match a finished batch's results to its requests: every request gets exactly one
        outcome (see `BatchOutcome`). Answers are billed at batch prices, recorded with the
        batch flag and audited like any call of the phase; retryable failures, expiries and
        answers that fail the phase's validator are re-run as ordinary routed calls unless
        `retry=False`."""
        return BatchRunner(self).collect(handle, retry=retry)

    # hooks for the stream classes (same module family; not public API)
