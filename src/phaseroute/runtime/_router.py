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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from phaseroute.costs import PriceBook
from phaseroute.monitor import MonitorStore, ProductionMonitor
from phaseroute.policy import load_plan
from phaseroute.providers._base import CompletionRequest, Provider
from phaseroute.runtime._accounting import (
    AuditSink,
)
from phaseroute.runtime._engine import RoutingEngine
from phaseroute.runtime._event_stream import AsyncRoutedEventStream
from phaseroute.runtime._ledger import UsageLedger
from phaseroute.runtime._providers import (
    build_providers,
    close_provider,
    database_location,
    open_audit,
)
from phaseroute.runtime._request import MessageLike
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
        **kwargs: Any,
    ) -> Router:
        """A router for the policy at `path`: providers built from its `providers` section
        (entries of `providers` replace them by name, e.g. fakes or replay), usage recorded
        in `database` (default: the policy's `database`, else phaseroute.db beside it)."""
        plan = load_plan(path)
        built = build_providers(plan, providers or {})
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
            # The policy asks for production checks: shadow calls and the drift watch.
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
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] = (),
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> RoutedResponse:
        """Route one call of `workflow`/`phase` and return the answer with its history."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata
        )
        return self._complete_call(call)[1]

    async def acomplete(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        *,
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] = (),
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> RoutedResponse:
        """The async twin of `complete`."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata
        )
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
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] = (),
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> RoutedStream:
        """Route one call and stream its text. Iterate for deltas; `.result` is the
        `RoutedResponse` once the stream completed. See `RoutedStream` for the rules."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata,
            stream=True,
        )  # fmt: skip
        return RoutedStream(self, call)

    def astream(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        *,
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: Iterable[str] = (),
        case_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> AsyncRoutedStream:
        """The async twin of `stream`: ``async for delta in router.astream(...)``."""
        call = self._call(
            workflow, phase, messages, system, max_tokens, temperature, stop, case_id, metadata,
            stream=True,
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

    # hooks for the stream classes (same module family; not public API)
