"""One finished gateway request, as metrics, spans and access logs see it.

It carries names, numbers and ids only — never a prompt, a response or a key — so whatever
is built from it (a metric label, a span attribute, a log line) cannot leak content.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CallSummary:
    """What the gateway knows about one request once its last byte is sent (or it failed)."""

    protocol: str  # the client's wire protocol: anthropic | openai
    method: str
    path: str  # the matched route, without the query string
    status: int  # HTTP status sent to the client
    duration_s: float  # request received → response finished
    upstream_s: float = 0.0  # time spent waiting on upstream calls (all attempts)
    request_id: str | None = None  # the gateway's id of this request
    key_id: str | None = None  # the caller's public key id, never the key
    workflow: str | None = None
    phase: str | None = None
    tier: str | None = None
    model: str | None = None  # the catalogue model that served
    provider: str | None = None  # its provider type: anthropic | openai_compat | replay
    model_id: str | None = None  # the model id sent upstream
    model_reported: str | None = None  # the model the provider says answered
    response_id: str | None = None  # the provider's message / completion id
    stream: bool = False
    max_tokens: int | None = None
    finish_reason: str | None = None
    input_tokens: int = 0  # uncached input (phaseroute's convention)
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal | None = None
    fallbacks: int = 0  # models tried before the one that served
    degraded: bool = False
    policy_hash: str | None = None
    audit_seq: int | None = None
    audit_append_s: float | None = None
    case_id: str | None = None
    # Why the gateway refused or failed the request, None when it was served: the error type
    # sent to the client (authentication_error, permission_error, request_too_large, ...),
    # except budget_exceeded for a budget refusal (sent as rate_limit_error),
    # upstream_error, incomplete_response, audit_error and client_disconnected.
    error_type: str | None = None

    @property
    def overhead_s(self) -> float:
        """The gateway's own share of the latency: everything but waiting on upstream."""
        return max(self.duration_s - self.upstream_s, 0.0)
