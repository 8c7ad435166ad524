"""JSON access logs of the gateway: one line per request, without content or keys.

Each line is built from a `CallSummary`, which holds no prompt, response or key, so the log
cannot leak them; the only client-chosen string it carries, the case id, is cut to 200
characters. Lines go straight to the stream given (stderr by default) under a lock, not
through `logging`: a LogRecord, handler lookup and formatter cost three times the line itself,
and nothing global is configured or shared.
"""

from __future__ import annotations

import json
import sys
import threading
from contextlib import suppress
from datetime import UTC, datetime
from typing import TextIO

from phaseroute.gateway._summary import CallSummary

CASE_ID_MAX = 200


def access_record(call: CallSummary, now: datetime | None = None) -> dict[str, object]:
    """The fields of one access-log line (None fields are left out)."""
    moment = (now or datetime.now(tz=UTC)).astimezone(UTC)
    record: dict[str, object] = {
        "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "event": "request",
        "request_id": call.request_id,
        "method": call.method,
        "path": call.path,
        "status": call.status,
        "protocol": call.protocol,
        "duration_ms": round(call.duration_s * 1000, 3),
        "upstream_ms": round(call.upstream_s * 1000, 3),
        "overhead_ms": round(call.overhead_s * 1000, 3),
        "key_id": call.key_id,
        "workflow": call.workflow,
        "phase": call.phase,
        "tier": call.tier,
        "model": call.model,
        "model_id": call.model_id,
        "model_reported": call.model_reported,
        "stream": call.stream,
        "error_type": call.error_type,
        "case_id": None if call.case_id is None else call.case_id[:CASE_ID_MAX],
        "audit_seq": call.audit_seq,
        "policy_hash": call.policy_hash,
    }
    if call.model is not None:
        record["tokens"] = {
            "input": call.input_tokens,
            "output": call.output_tokens,
            "cache_read": call.cache_read_tokens,
            "cache_write": call.cache_write_tokens,
        }
        record["cost_usd"] = None if call.cost_usd is None else str(call.cost_usd)
        record["fallbacks"] = call.fallbacks
        record["degraded"] = call.degraded
    return {k: v for k, v in record.items() if v is not None}


class AccessLog:
    """Writes one JSON line per request to a stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()

    def write(self, call: CallSummary) -> None:
        if not self.enabled:
            return
        line = json.dumps(access_record(call), separators=(",", ":")) + "\n"
        # a closed or broken stream never fails a request
        with self._lock, suppress(OSError, ValueError):
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        with self._lock, suppress(OSError, ValueError):
            self._stream.flush()
