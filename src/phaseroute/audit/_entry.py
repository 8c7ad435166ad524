"""What the router hands the audit trail (`AuditEntry`) and what it gets back (`AuditReceipt`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from phaseroute.errors import RequestError

Escalation = str | Mapping[str, str]


@dataclass(frozen=True)
class AuditEntry:
    """One routed call as the router saw it; the trail adds sequence, time and hashes.

    `request` is the JSON-able request document (system, messages, params); keys named like
    credentials (api_key, authorization, ...) are stripped before anything is stored. With
    `redact=True` only the SHA-256 digests of request and response are kept.
    Timestamps are ISO-8601 strings in UTC; `cost` is a Decimal written as a string.
    """

    workflow: str
    phase: str
    case_id: str | None
    model_requested: str
    model_reported: str | None
    provider: str
    tier: str
    rule: str
    basis: str
    reasons: tuple[str, ...]
    policy_hash: str
    request: Mapping[str, Any]
    response_text: str
    redact: bool
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: str | None
    price_version: str | None
    started_at: str
    first_token_at: str | None
    finished_at: str
    latency_s: float
    stop_reason: str | None
    stream_complete: bool
    request_id: str | None
    attempts: tuple[tuple[str, str], ...] = ()
    fallbacks: tuple[str, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    degraded: bool = False
    caller_key_id: str | None = None
    reviewer: str | None = None
    batch: bool = False  # served by a provider's batch API, priced at batch rates

    def __post_init__(self) -> None:
        # Callers often pass lists; keep the value immutable and the type honest.
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("reasons", tuple(self.reasons))
        put("attempts", tuple((str(m), str(e)) for m, e in self.attempts))
        put("fallbacks", tuple(self.fallbacks))
        put("escalations", tuple(self.escalations))
        _check(self)


def policy_event(
    *,
    workflow: str,
    phase: str,
    model_requested: str,
    provider: str,
    tier: str,
    rule: str,
    basis: str,
    reasons: tuple[str, ...],
    policy_hash: str,
    event: Mapping[str, Any],
    at: datetime,
) -> AuditEntry:
    """A record of something that changed routing (a reload, a drift revert) rather than a
    call: no tokens, no cost, no answer; `event` (with its `event` name) says what and why."""
    when = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return AuditEntry(
        workflow=workflow,
        phase=phase,
        case_id=None,
        model_requested=model_requested,
        model_reported=None,
        provider=provider,
        tier=tier,
        rule=rule,
        basis=basis,
        reasons=reasons,
        policy_hash=policy_hash,
        request=event,
        response_text="",
        redact=False,
        input_tokens=0,
        output_tokens=0,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cost=None,
        price_version=None,
        started_at=when,
        first_token_at=None,
        finished_at=when,
        latency_s=0.0,
        stop_reason=None,
        stream_complete=True,
        request_id=None,
    )


@dataclass(frozen=True)
class AuditReceipt:
    """Proof of a durable append: where the record sits in the chain and its hash."""

    sequence: int
    record_hash: str
    prev_hash: str
    recorded_at: str
    checkpointed: bool = field(default=False)


def _bad(name: str, why: str) -> RequestError:
    return RequestError(f"AuditEntry.{name} {why}")


def _check(e: AuditEntry) -> None:
    for name in ("workflow", "phase", "model_requested", "provider", "tier", "rule", "basis"):
        if not isinstance(getattr(e, name), str) or not getattr(e, name):
            raise _bad(name, "must be a non-empty string")
    for name in ("policy_hash", "response_text", "started_at", "finished_at"):
        if not isinstance(getattr(e, name), str):
            raise _bad(name, "must be a string")
    optional = (
        "case_id",
        "model_reported",
        "price_version",
        "first_token_at",
        "stop_reason",
        "request_id",
        "caller_key_id",
        "reviewer",
        "cost",
    )
    for name in optional:
        value = getattr(e, name)
        if value is not None and not isinstance(value, str):
            raise _bad(name, "must be a string or None")
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        value = getattr(e, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
            raise _bad(name, f"must be a non-negative integer, got {value!r}")
    if isinstance(e.latency_s, bool) or not isinstance(e.latency_s, int | float):
        raise _bad("latency_s", "must be a number of seconds")
    if not math.isfinite(e.latency_s) or e.latency_s < 0:
        raise _bad("latency_s", f"must be finite and non-negative, got {e.latency_s!r}")
    for name in ("redact", "stream_complete", "degraded", "batch"):
        if not isinstance(getattr(e, name), bool):
            raise _bad(name, "must be True or False")
    if not isinstance(e.request, Mapping):
        raise _bad("request", "must be a mapping (system, messages, params)")
    for name in ("reasons", "fallbacks"):
        if not all(isinstance(x, str) for x in getattr(e, name)):
            raise _bad(name, "must hold strings only")
    for esc in e.escalations:
        if not isinstance(esc, str) and not (
            isinstance(esc, Mapping)
            and all(
                isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in esc.items()
            )
        ):
            raise _bad("escalations", "must hold strings or string-to-string mappings")
    if e.cost is not None:
        try:
            cost = Decimal(e.cost)
        except InvalidOperation:
            raise _bad("cost", f"must be a decimal number as a string, got {e.cost!r}") from None
        if not cost.is_finite():
            raise _bad("cost", f"must be finite, got {e.cost!r}")
    for name in ("started_at", "first_token_at", "finished_at"):
        value = getattr(e, name)
        if value is None:
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _bad(name, f"must be an ISO-8601 timestamp, got {value!r}") from None
        if parsed.utcoffset() is None:
            raise _bad(name, f"must carry a UTC offset (e.g. ...Z), got {value!r}")
