"""The routing engine behind `Router` (whose public surface is in `_router.py`).

A call takes the phase's decision from the compiled plan,
walks its model chain through the retry/fallback wrapper, validates and escalates where
the phase declares it, prices and records the answer, audit-records it when the phase
requires, and returns it with everything that explains it. A phase that cannot get its
tier raises `RoutingUnavailable` — unless the policy allows a degraded route, which is
then recorded on the result, in the ledger and in the audit entry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from phaseroute.audit import AuditEntry
from phaseroute.costs import PriceBook
from phaseroute.errors import Attempt, RequestError, RoutingUnavailable
from phaseroute.policy import Basis, Kind, ModelChoice, PhaseDecision, RoutingPlan
from phaseroute.providers._base import CompletionRequest, Provider, Usage
from phaseroute.runtime._accounting import (
    Accountant,
    AuditSink,
    Billed,
    append_entry,
    audit_entry,
)
from phaseroute.runtime._clock import Clock, SystemClock
from phaseroute.runtime._ledger import UsageLedger
from phaseroute.runtime._request import MessageLike, SystemLike, build_request
from phaseroute.runtime._result import (
    Escalation,
    ItemScore,
    RouteDecision,
    RoutedResponse,
    Validation,
)
from phaseroute.runtime._retry import CallState, Exhausted, RetryingChain, RetryPolicy
from phaseroute.runtime._timeouts import Workers, acomplete
from phaseroute.runtime._validators import Validator, build_validator

T = TypeVar("T")


class CallObserver(Protocol):
    """Told of every routed call that was served (not direct calls); must return at once.

    The production monitor (`phaseroute.monitor`) is one: it samples calls for shadow
    comparison on the top tier and runs that work off the caller's path.
    """

    def served(self, request: CompletionRequest, result: RoutedResponse) -> None: ...


@dataclass
class Call:
    """One routed call in flight (internal; never shared between calls)."""

    decision: PhaseDecision
    route: RouteDecision
    request: CompletionRequest
    state: CallState
    started_at: datetime
    case_id: str | None
    stream: bool = False
    degraded: bool = False
    escalations: list[Escalation] = field(default_factory=list)
    validation: Validation | None = None
    caller_key_id: str | None = None  # per call (the gateway's caller); else the router's

    @property
    def fallbacks(self) -> tuple[str, ...]:
        return tuple(self.state.tried[1:])


def per_item_route(
    decision: PhaseDecision, route: RouteDecision, request: CompletionRequest
) -> tuple[PhaseDecision, RouteDecision]:
    """Score the call with the phase's certified predictor and route it: to the cheapest
    model whose score clears the threshold (falling back to the phase's own model and its
    fallbacks, all at or above that tier), else unchanged. Either way the score is recorded."""
    item = decision.per_item
    assert item is not None
    text = "\n".join(m.text for m in request.messages)
    choice, score = item.choose(text)
    routed_to = None if choice is None else choice.name
    scored = ItemScore(item.predictor.sha256, score, item.threshold, routed_to)
    if choice is None:
        return decision, replace(route, item=scored)
    chain = tuple(m for m in (decision.model, *decision.fallbacks) if m.name != choice.name)
    routed = replace(
        decision,
        tier=choice.tier,
        model=choice,
        fallbacks=chain,
        reasons=(*decision.reasons, scored.reason()),
    )
    return routed, replace(
        route,
        tier=choice.tier,
        model=choice.name,
        model_id=choice.model_id,
        rule="per-item: certified",
        item=scored,
    )


def _route(decision: PhaseDecision, policy_hash: str) -> RouteDecision:
    return RouteDecision(
        decision.workflow,
        decision.phase,
        decision.tier,
        decision.model.name,
        decision.model.model_id,
        decision.rule,
        decision.basis.value,
        policy_hash,
    )


def _asks_for_tools(billed: Billed) -> bool:
    """An answer that stops to call tools is not the step's result yet: the validator judges
    the answer the step ends with (escalating then re-runs it with the whole tool history)."""
    return billed.response.stop_reason == "tool_use"


class RoutingEngine:
    """Routing machinery shared by `Router`'s sync, async and streaming calls.

    `providers` maps every provider name the plan's models use to a `Provider`; `retry`
    bounds attempts and time; `prices` (None: costs unknown), `ledger` (None: usage not
    persisted) and `audit` (None: recorded phases fail closed) are optional; `clock` and
    `rng` are injectable so tests never really sleep.
    """

    def __init__(
        self,
        plan: RoutingPlan,
        providers: Mapping[str, Provider],
        *,
        retry: RetryPolicy | None = None,
        prices: PriceBook | None = None,
        ledger: UsageLedger | None = None,
        audit: AuditSink | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        caller_key_id: str | None = None,
        max_workers: int = 64,
        observer: CallObserver | None = None,
    ) -> None:
        missing = sorted({m.provider for m in plan.models.values()} - set(providers))
        if missing:
            raise RequestError(
                f"no provider given for {', '.join(map(repr, missing))} — pass every provider "
                f"the policy's models use (have: {', '.join(sorted(providers)) or 'none'})"
            )
        self.plan = plan
        self.providers = dict(providers)
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.audit = audit
        self.ledger = ledger
        self.caller_key_id = caller_key_id
        self.observer = observer
        self._accountant = Accountant(prices, ledger, plan.top_model())
        self._chain = RetryingChain(self.providers, self.clock, rng or random.Random())
        self._workers = Workers(max_workers)
        # Live decisions: the plan's, except phases reverted to the top tier at run time.
        self._decisions: dict[tuple[str, str], PhaseDecision] = dict(plan.decisions)
        self._routes = {k: _route(d, plan.policy_hash) for k, d in plan.decisions.items()}
        self._validators: dict[tuple[str, str], Validator] = {
            k: build_validator(d.escalation.validator, f"workflows.{k[0]}.phases.{k[1]}")
            for k, d in plan.decisions.items()
            if d.escalation is not None
        }
        by_rank = sorted(plan.models.values(), key=lambda m: m.rank)
        self._at_or_above = {
            m.name: tuple(o for o in by_rank if o.rank >= m.rank and o.name != m.name)
            for m in by_rank
        }

    def _state(self) -> CallState:
        return CallState(self.clock, self.retry, self.clock.monotonic())

    def _primary_chain(self, decision: PhaseDecision) -> tuple[ModelChoice, ...]:
        return (decision.model, *decision.fallbacks)

    def _escalation_chain(self, target: ModelChoice) -> tuple[ModelChoice, ...]:
        return (target, *self._at_or_above[target.name])

    def _next_tier_up(self, call: Call, served: ModelChoice) -> ModelChoice | None:
        return next((m for m in call.decision.escalate_to if m.rank > served.rank), None)

    def _unavailable(self, call: Call) -> RoutingUnavailable:
        state = call.state
        last: dict[str, Attempt] = {}
        for a in state.attempts:
            if a.error is not None:
                last[a.model] = Attempt(a.model, a.tier, a.error)
        first = call.decision.model
        self._accountant.record(
            at=self.clock.now(),
            decision=call.route,
            billed=None,
            outcome="unavailable",
            attempts=len(state.attempts),
            fell_back=len(state.tried) > 1,
            degraded=False,
            stream=call.stream,
            latency_s=self.clock.monotonic() - state.started,
            case_id=call.case_id,
            failed_model=first,
        )
        return RoutingUnavailable(
            call.route.workflow,
            call.route.phase,
            call.route.tier,
            list(last.values()),
            state.errors,
        )

    def _run(
        self,
        call: Call,
        chain: Sequence[ModelChoice],
        send: Callable[[Provider, CompletionRequest, float | None], T],
    ) -> tuple[T, ModelChoice]:
        """The first answer along `chain`, else along the degraded route if the phase allows
        it (never for audit phases: the compiler leaves them no `degrade_to`)."""
        try:
            return self._chain.run(call.state, chain, call.request, send)
        except Exhausted:
            if not call.decision.degrade_to or call.degraded or call.escalations:
                raise
            call.degraded = True
            return self._chain.run(call.state, call.decision.degrade_to, call.request, send)

    def _serve(self, call: Call, chain: Sequence[ModelChoice]) -> Billed:
        response, model = self._run(call, chain, self._workers.complete)
        return self._accountant.bill(model, response)

    def _escalate(self, call: Call, billed: Billed) -> Billed:
        validator = self._validators.get(call.decision.key)
        if validator is None or call.degraded or _asks_for_tools(billed):
            return billed
        assert call.decision.escalation is not None
        verdict = validator(billed.response.text)
        steps = 0
        while not verdict.ok and steps < call.decision.escalation.max_steps:
            target = self._next_tier_up(call, billed.model)
            if target is None:
                break
            try:
                better = self._serve(call, self._escalation_chain(target))
            except Exhausted:
                verdict = replace(verdict, reason=f"{verdict.reason}; escalation unavailable")
                break
            self._discard(call, billed, better, verdict.reason)
            billed, steps = better, steps + 1
            verdict = validator(billed.response.text)
        call.validation = Validation(verdict.ok, verdict.reason)
        return billed

    def _discard(self, call: Call, old: Billed, new: Billed, reason: str) -> None:
        call.escalations.append(
            Escalation(
                old.model.name,
                old.model.tier,
                new.model.name,
                new.model.tier,
                reason,
                old.response.usage,
                old.cost,
            )
        )
        self._record(call, old, "escalated")

    def _record(self, call: Call, billed: Billed, outcome: str) -> None:
        self._accountant.record(
            at=self.clock.now(),
            decision=call.route,
            billed=billed,
            outcome=outcome,
            attempts=len(call.state.attempts),
            fell_back=len(call.state.tried) > 1,
            degraded=call.degraded,
            stream=call.stream,
            latency_s=self.clock.monotonic() - call.state.started,
            case_id=call.case_id,
        )

    def _finish(self, call: Call, billed: Billed, outcome: str = "served") -> RoutedResponse:
        self._record(call, billed, outcome)
        return RoutedResponse(
            response=billed.response,
            decision=call.route,
            model=billed.model.name,
            model_id=billed.model.model_id,
            tier=billed.model.tier,
            provider=billed.model.provider,
            usage=billed.response.usage,
            cost=billed.cost,
            counterfactual_cost=billed.counterfactual_cost,
            price_version=self._accountant.price_version,
            latency_s=self.clock.monotonic() - call.state.started,
            attempts=tuple(call.state.attempts),
            fallbacks=call.fallbacks,
            escalations=tuple(call.escalations),
            degraded=call.degraded,
            validation=call.validation,
            audit_sequence=None,
            case_id=call.case_id,
            stream=call.stream,
        )

    def _entry(self, call: Call, billed: Billed, result: RoutedResponse) -> AuditEntry:
        return audit_entry(
            plan_decision=call.decision,
            decision=call.route,
            request=replace(call.request, model=billed.model.model_id),
            billed=billed,
            started_at=call.started_at,
            finished_at=self.clock.now(),
            latency_s=result.latency_s,
            first_token_s=billed.response.first_token_s,
            stream_complete=billed.response.complete,
            attempts=result.attempts,
            fallbacks=result.fallbacks,
            escalations=result.escalations,
            degraded=result.degraded,
            case_id=call.case_id,
            caller_key_id=call.caller_key_id or self.caller_key_id,
            price_version=self._accountant.price_version,
        )

    def _where(self, call: Call) -> str:
        return f"{call.route.workflow}/{call.route.phase}"

    def _audited(self, call: Call, billed: Billed, result: RoutedResponse) -> RoutedResponse:
        if not call.decision.record:
            return result
        entry = self._entry(call, billed, result)
        seq = append_entry(self.audit, entry, self._where(call))
        return replace(result, audit_sequence=seq)

    async def _arun(
        self,
        call: Call,
        chain: Sequence[ModelChoice],
        send: Callable[[Provider, CompletionRequest, float | None], Awaitable[T]],
    ) -> tuple[T, ModelChoice]:
        try:
            return await self._chain.arun(call.state, chain, call.request, send)
        except Exhausted:
            if not call.decision.degrade_to or call.degraded or call.escalations:
                raise
            call.degraded = True
            return await self._chain.arun(call.state, call.decision.degrade_to, call.request, send)

    async def _aserve(self, call: Call, chain: Sequence[ModelChoice]) -> Billed:
        response, model = await self._arun(call, chain, acomplete)
        return self._accountant.bill(model, response)

    async def _aescalate(self, call: Call, billed: Billed) -> Billed:
        validator = self._validators.get(call.decision.key)
        if validator is None or call.degraded or _asks_for_tools(billed):
            return billed
        assert call.decision.escalation is not None
        verdict = validator(billed.response.text)
        steps = 0
        while not verdict.ok and steps < call.decision.escalation.max_steps:
            target = self._next_tier_up(call, billed.model)
            if target is None:
                break
            try:
                better = await self._aserve(call, self._escalation_chain(target))
            except Exhausted:
                verdict = replace(verdict, reason=f"{verdict.reason}; escalation unavailable")
                break
            self._discard(call, billed, better, verdict.reason)
            billed, steps = better, steps + 1
            verdict = validator(billed.response.text)
        call.validation = Validation(verdict.ok, verdict.reason)
        return billed

    async def _aaudited(self, call: Call, billed: Billed, result: RoutedResponse) -> RoutedResponse:
        if not call.decision.record:
            return result
        entry = self._entry(call, billed, result)
        # The durable append blocks on disk; keep it off the event loop.
        seq = await asyncio.to_thread(append_entry, self.audit, entry, self._where(call))
        return replace(result, audit_sequence=seq)

    def _direct(
        self, model_name: str, request: CompletionRequest, workflow: str, phase: str | None
    ) -> Call:
        model = self.plan.models.get(model_name)
        if model is None:
            raise RequestError(
                f"unknown model {model_name!r} (the catalogue has: {', '.join(self.plan.models)})"
            )
        route = RouteDecision(
            workflow,
            phase or model_name,
            model.tier,
            model.name,
            model.model_id,
            "direct call",
            "direct",
            self.plan.policy_hash,
        )
        decision = PhaseDecision(
            workflow=workflow,
            phase=route.phase,
            kind=Kind.execution,
            tier=model.tier,
            model=model,
            basis=Basis.override,
            rule=route.rule,
            reasons=("a direct call of one catalogue model, outside routing",),
            warnings=(),
            fallbacks=(),
            degrade_to=(),
            escalate_to=(),
            escalation=None,
            audit=False,
            record=False,
            redact=False,
            volume=0,
            tokens_in=None,
            tokens_out=None,
        )
        request = replace(request, model="")
        return Call(decision, route, request, self._state(), self.clock.now(), None)

    def _last_error(self, call: Call) -> Exception:
        self._unavailable(call)  # records the failed call in the ledger
        error = call.state.errors[-1] if call.state.errors else None
        if error is None:
            return RoutingUnavailable(call.route.workflow, call.route.phase, call.route.tier, [])
        return error

    def _complete_call(self, call: Call) -> tuple[Billed, RoutedResponse]:
        try:
            billed = self._serve(call, self._primary_chain(call.decision))
        except Exhausted:
            raise self._unavailable(call) from None
        billed = self._escalate(call, billed)
        result = self._finish(call, billed)
        return billed, self._observed(call, self._audited(call, billed, result))

    async def _acomplete_call(self, call: Call) -> tuple[Billed, RoutedResponse]:
        try:
            billed = await self._aserve(call, self._primary_chain(call.decision))
        except Exhausted:
            raise self._unavailable(call) from None
        except asyncio.CancelledError:
            self._cancelled(call)
            raise
        billed = await self._aescalate(call, billed)
        result = self._finish(call, billed)
        return billed, self._observed(call, await self._aaudited(call, billed, result))

    def _observed(self, call: Call, result: RoutedResponse) -> RoutedResponse:
        if self.observer is not None:
            self.observer.served(call.request, result)
        return result

    def revert_to_top(self, workflow: str, phase: str, reason: str) -> RouteDecision:
        """Route `workflow`/`phase` to the top tier from the next call on (e.g. on drift).

        The plan itself is immutable; the reverted decision keeps the plan's policy hash and
        says why in its rule and reasons. Idempotent."""
        self.decide(workflow, phase)  # a RequestError for unknown names
        key = (workflow, phase)
        current = self._decisions[key]
        top = self.plan.top_model()
        if current.model.rank >= top.rank and current.per_item is None:
            return self._routes[key]
        reverted = replace(
            current,
            tier=top.tier,
            model=top,
            basis=Basis.measured,
            rule="drift revert",
            reasons=(reason,),
            fallbacks=self._at_or_above[top.name],
            degrade_to=(),
            escalate_to=(),
            escalation=None,
            per_item=None,  # a reverted phase stops routing items below the top tier too
        )
        self._decisions[key] = reverted
        self._routes[key] = _route(reverted, self.plan.policy_hash)
        return self._routes[key]

    def estimate_cost(
        self, workflow: str, phase: str, input_tokens: int, output_tokens: int
    ) -> Decimal | None:
        """What a call of the phase would cost on its primary model (None: no price known);
        e.g. for a budget check before the call."""
        model = self.plan.decision(workflow, phase).model
        prices = self._accountant.prices
        if prices is None:
            return None
        return prices.cost(model.name, Usage(input_tokens, output_tokens))

    def _cancelled(self, call: Call) -> None:
        """The caller went away (e.g. a gateway client disconnected) before the answer."""
        self._accountant.record(
            at=self.clock.now(),
            decision=call.route,
            billed=None,
            outcome="cancelled",
            attempts=len(call.state.attempts),
            fell_back=len(call.state.tried) > 1,
            degraded=call.degraded,
            stream=call.stream,
            latency_s=self.clock.monotonic() - call.state.started,
            case_id=call.case_id,
            failed_model=call.decision.model,
        )

    def _call_for_request(
        self,
        workflow: str,
        phase: str,
        request: CompletionRequest,
        *,
        case_id: str | None,
        caller_key_id: str | None,
        stream: bool,
    ) -> Call:
        """A call of a phase for a request built elsewhere (the gateway's wire translation)."""
        route = self.decide(workflow, phase)
        return Call(
            decision=self.plan.decisions[(workflow, phase)],
            route=route,
            request=replace(request, model=""),
            state=self._state(),
            started_at=self.clock.now(),
            case_id=case_id,
            stream=stream,
            caller_key_id=caller_key_id,
        )

    def decide(self, workflow: str, phase: str) -> RouteDecision:
        """The decision for a phase, without calling anything."""
        route = self._routes.get((workflow, phase))
        if route is None:
            self.plan.decision(workflow, phase)  # raises a RequestError naming what exists
            raise AssertionError("unreachable")  # pragma: no cover
        return route

    def _call(
        self,
        workflow: str,
        phase: str,
        messages: Iterable[MessageLike],
        system: SystemLike | None,
        max_tokens: int,
        temperature: float | None,
        stop: Iterable[str] | str | None,
        case_id: str | None,
        metadata: Mapping[str, str] | None,
        stream: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> Call:
        route = self.decide(workflow, phase)
        request = build_request(
            messages,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop,
            metadata=metadata,
            **(options or {}),
        )
        decision = self._decisions[(workflow, phase)]
        if decision.per_item is not None:
            decision, route = per_item_route(decision, route, request)
        return Call(
            decision=decision,
            route=route,
            request=request,
            state=self._state(),
            started_at=self.clock.now(),
            case_id=case_id,
            stream=stream,
        )
