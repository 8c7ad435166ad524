"""Call summaries for the metrics, tracing and access-log tests."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from phaseroute.gateway._summary import CallSummary

SECRET = "phr_0123456789ab_THIS-IS-A-SECRET-KEY"
PROMPT = "the customer's account number is 12345"

SERVED = CallSummary(
    protocol="anthropic",
    method="POST",
    path="/v1/messages",
    status=200,
    duration_s=0.2513,
    upstream_s=0.25,
    request_id="req_1",
    key_id="0123456789ab",
    workflow="wf",
    phase="decide",
    tier="top",
    model="large",
    provider="anthropic",
    model_id="claude-opus-5-5",
    model_reported="claude-opus-5-5-20261101",
    response_id="msg_01",
    stream=True,
    max_tokens=1024,
    finish_reason="end_turn",
    input_tokens=100,
    output_tokens=40,
    cache_read_tokens=1000,
    cache_write_tokens=10,
    cost_usd=Decimal("0.0123"),
    fallbacks=1,
    degraded=False,
    policy_hash="ab" * 32,
    audit_seq=7,
    audit_append_s=0.0008,
    case_id="case-42",
)

REFUSED = CallSummary(
    protocol="openai",
    method="POST",
    path="/v1/chat/completions",
    status=429,
    duration_s=0.0004,
    key_id="0123456789ab",
    workflow="wf",
    phase="screen",
    error_type="budget_exceeded",
)


def hostile() -> CallSummary:
    """A summary whose client-chosen strings try to get content into labels."""
    return replace(
        SERVED,
        workflow=PROMPT,
        phase=SECRET,
        model=SECRET,
        path="/v1/messages?key=" + SECRET,
        error_type=PROMPT,
    )
