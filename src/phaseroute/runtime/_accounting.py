"""Accounting around routed calls: price each billed answer (and its counterfactual on the
top tier), write it to the usage ledger, and build the audit entry for recorded phases.

Pricing never fails a call (an unknown model costs None, with one warning from the price
book); the audit append, when the phase is recorded, must succeed before the caller sees
the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from phaseroute.audit import AuditEntry
from phaseroute.costs import PriceBook
from phaseroute.errors import AuditWriteFailed
from phaseroute.policy import ModelChoice, PhaseDecision
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Usage
from phaseroute.runtime._ledger import UsageLedger, UsageRecord
from phaseroute.runtime._result import AttemptRecord, Escalation, RouteDecision
from phaseroute.wire import anthropic as wire


class AuditReceiptLike(Protocol):
    @property
    def sequence(self) -> int: ...


class AuditSink(Protocol):
    """Where recorded calls go: `phaseroute.audit.AuditTrail` or a test fake."""

    def append(self, entry: AuditEntry) -> AuditReceiptLike: ...


@dataclass(frozen=True, slots=True)
class Billed:
    """One complete answer that was paid for, and what it cost."""

    model: ModelChoice
    response: CompletionResponse
    cost: Decimal | None
    counterfactual_cost: Decimal | None


class Accountant:
    """Prices answers and records them; shared by all calls of one router (thread-safe)."""

    def __init__(
        self, prices: PriceBook | None, ledger: UsageLedger | None, top: ModelChoice
    ) -> None:
        self.prices = prices
        self.ledger = ledger
        self.top = top
        self.price_version = prices.version if prices is not None else None

    def bill(self, model: ModelChoice, response: CompletionResponse) -> Billed:
        if self.prices is None:
            return Billed(model, response, None, None)
        usage = response.usage
        return Billed(
            model,
            response,
            self.prices.cost(model.name, usage),
            self.prices.cost(self.top.name, usage),
        )

    def record(
        self,
        *,
        at: datetime,
        decision: RouteDecision,
        billed: Billed | None,
        outcome: str,
        attempts: int,
        fell_back: bool,
        degraded: bool,
        stream: bool,
        latency_s: float,
        case_id: str | None,
        failed_model: ModelChoice | None = None,
    ) -> None:
        if self.ledger is None:
            return
        model = billed.model if billed is not None else failed_model
        assert model is not None
        response = billed.response if billed is not None else None
        usage = response.usage if response is not None else Usage()
        self.ledger.record(
            UsageRecord(
                recorded_at=at,
                workflow=decision.workflow,
                phase=decision.phase,
                model=model.name,
                model_id=model.model_id,
                model_reported=response.model_reported if response is not None else None,
                provider=model.provider,
                tier=model.tier,
                required_tier=decision.tier,
                outcome=outcome,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost=billed.cost if billed is not None else None,
                counterfactual_cost=billed.counterfactual_cost if billed is not None else None,
                latency_s=latency_s,
                attempts=attempts,
                fell_back=fell_back,
                degraded=degraded,
                stream=stream,
                policy_hash=decision.policy_hash,
                price_version=self.price_version,
                case_id=case_id,
                request_id=response.request_id if response is not None else None,
                batch=usage.batch,
                item_predictor=decision.item.predictor_sha256 if decision.item else None,
                item_score=decision.item.score if decision.item else None,
                item_threshold=decision.item.threshold if decision.item else None,
            )
        )


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def request_document(request: CompletionRequest) -> dict[str, Any]:
    """What was asked, as JSON: never keys, headers or authorization. Content blocks, tools
    and tool choice are written in the Anthropic wire shape; fields a request does not use
    are left out, so text-only records keep their original shape."""
    doc: dict[str, Any] = {
        "system": wire.content_to_wire(request.system),
        "messages": [
            {"role": m.role, "content": wire.content_to_wire(m.content)} for m in request.messages
        ],
        "params": {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop),
        },
    }
    if request.tools:
        doc["tools"] = [wire.tool_to_wire(t) for t in request.tools]
    if request.tool_choice is not None:
        doc["tool_choice"] = wire.tool_choice_to_wire(request.tool_choice)
    if request.native is not None:  # a gateway client's own body, as it was sent upstream
        doc["native"] = {"protocol": request.native.protocol, "body": request.native.body}
    return doc


def audit_entry(
    *,
    plan_decision: PhaseDecision,
    decision: RouteDecision,
    request: CompletionRequest,
    billed: Billed,
    started_at: datetime,
    finished_at: datetime,
    latency_s: float,
    first_token_s: float | None,
    stream_complete: bool,
    attempts: Sequence[AttemptRecord],
    fallbacks: Sequence[str],
    escalations: Sequence[Escalation],
    degraded: bool,
    case_id: str | None,
    caller_key_id: str | None,
    price_version: str | None,
) -> AuditEntry:
    """The audit trail's record of one routed call."""

    response = billed.response
    usage = response.usage
    first = (
        _iso(started_at + timedelta(seconds=first_token_s)) if first_token_s is not None else None
    )
    return AuditEntry(
        workflow=decision.workflow,
        phase=decision.phase,
        case_id=case_id,
        model_requested=response.model_requested,
        model_reported=response.model_reported,
        provider=billed.model.provider,
        tier=billed.model.tier,
        rule=decision.rule,
        basis=decision.basis,
        reasons=plan_decision.reasons
        if decision.item is None or decision.item.routed_to
        else (*plan_decision.reasons, decision.item.reason()),
        policy_hash=decision.policy_hash,
        request=request_document(request),
        response_text=response.text,
        redact=plan_decision.redact,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost=None if billed.cost is None else str(billed.cost),
        price_version=price_version,
        started_at=_iso(started_at),
        first_token_at=first,
        finished_at=_iso(finished_at),
        latency_s=latency_s,
        stop_reason=response.stop_reason,
        stream_complete=stream_complete,
        request_id=response.request_id,
        attempts=tuple((a.model, a.error) for a in attempts if a.error is not None),
        fallbacks=tuple(fallbacks),
        escalations=tuple(
            {"from": e.from_model, "to": e.to_model, "to_tier": e.to_tier, "reason": e.reason}
            for e in escalations
        ),
        degraded=degraded,
        caller_key_id=caller_key_id,
        reviewer=None,
        batch=usage.batch,
    )


def append_entry(sink: AuditSink | None, entry: AuditEntry, where: str) -> int:
    """Append and return the sequence number; any failure fails the call closed."""
    if sink is None:
        raise AuditWriteFailed(
            f"{where} must be audit-recorded, but this router has no audit trail — "
            "pass audit=... (or use Router.from_policy, which opens the policy's)"
        )
    try:
        receipt = sink.append(entry)
    except AuditWriteFailed:
        raise
    except Exception as e:
        raise AuditWriteFailed(f"{where}: the audit record could not be written: {e}") from e
    return receipt.sequence
