"""Sample audit entries and helpers shared by the audit tests (and the writer subprocess)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from phaseroute.audit import AuditEntry
from phaseroute.audit._codec import encode_record, link_hash


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


def insert_old_records(
    conn: Connection, last_seq: int, last_hash: str, entries: Sequence[AuditEntry], at: str
) -> str:
    """Chain `entries` after `last_seq`/`last_hash` straight into the tables, as schema
    versions 1 and 2 stored them (a record row and a content row each), bypassing the store;
    the new last hash (the head row is left to the caller)."""
    prev = last_hash
    for seq, entry in enumerate(entries, start=last_seq + 1):
        rec = encode_record(entry, at)
        own = link_hash(seq, prev, rec.body_sha256)
        conn.execute(
            text("INSERT INTO audit_records VALUES (:s, :p, :h, :b)"),
            {"s": seq, "p": prev, "h": own, "b": rec.body},
        )
        conn.execute(
            text("INSERT INTO audit_content (seq, request, response) VALUES (:s, :q, :r)"),
            {"s": seq, "q": rec.request_json, "r": rec.response_text},
        )
        prev = own
    return prev


def read_acks(path: Path) -> dict[int, str]:
    """The records a crash-test writer acknowledged (``seq request_id`` per line), by seq."""
    if not path.exists():
        return {}
    acks: dict[int, str] = {}
    for line in path.read_text().splitlines():
        seq, request_id = line.split()
        acks[int(seq)] = request_id
    return acks
