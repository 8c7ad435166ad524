"""Sample audit entries and helpers shared by the audit tests (and the writer subprocess)."""

from __future__ import annotations

from typing import Any

from phaseroute.audit import AuditEntry


def sample_entry(i: int = 0, **changes: Any) -> AuditEntry:
    """A realistic entry for an audited AML phase; `i` varies case, tokens and text."""
    values: dict[str, Any] = {
        "workflow": "aml",
        "phase": "compliance_interpretation",
        "case_id": f"CASE-{i % 7:04d}",
        "model_requested": "claude-opus-4-1",
        "model_reported": "claude-opus-4-1-20250805",
        "provider": "anthropic",
        "tier": "frontier",
        "rule": "audit",
        "basis": "rule",
        "reasons": ("audit phase stays at the highest tier",),
        "policy_hash": "ab" * 32,
        "request": {
            "system": "You are a compliance analyst.",
            "messages": [{"role": "user", "content": f"Alert {i}: does §5318(g) apply? ünïcode ✓"}],
            "params": {"max_tokens": 512, "temperature": 0.0},
        },
        "response_text": f"Provision applies to alert {i}; file a SAR within 30 days.",
        "redact": False,
        "input_tokens": 1200 + i,
        "output_tokens": 300,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost": "0.04125",
        "price_version": "genai-prices 0.0.30",
        "started_at": "2026-11-26T10:00:00.000000Z",
        "first_token_at": "2026-11-26T10:00:00.420000Z",
        "finished_at": "2026-11-26T10:00:01.250000Z",
        "latency_s": 1.25,
        "stop_reason": "end_turn",
        "stream_complete": True,
        "request_id": f"req_{i:06d}",
        "attempts": (("claude-opus-4-1", "529 overloaded_error"),),
        "fallbacks": (),
        "escalations": (),
        "degraded": False,
        "caller_key_id": "key-aml-1",
        "reviewer": None,
    }
    values.update(changes)
    return AuditEntry(**values)
