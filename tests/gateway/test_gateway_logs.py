"""JSON access logs: one parseable line per request, without content or keys."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from observe_support import REFUSED, SERVED

from phaseroute.gateway._logs import AccessLog


def _lines(*calls: object) -> list[dict[str, object]]:
    stream = io.StringIO()
    log = AccessLog(stream)
    for call in calls:
        log.write(call)  # type: ignore[arg-type]
    log.close()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_line_per_request() -> None:
    served, refused = _lines(SERVED, REFUSED)
    assert served["event"] == "request"
    assert str(served["ts"]).endswith("Z")
    assert served["status"] == 200
    assert served["key_id"] == "0123456789ab"
    assert (served["workflow"], served["phase"], served["tier"]) == ("wf", "decide", "top")
    assert served["tokens"] == {"input": 100, "output": 40, "cache_read": 1000, "cache_write": 10}
    assert served["cost_usd"] == "0.0123"
    assert served["overhead_ms"] == 1.3
    assert served["audit_seq"] == 7
    assert refused["status"] == 429
    assert refused["error_type"] == "budget_exceeded"
    assert "tokens" not in refused


def test_only_names_numbers_and_ids_and_the_case_id_is_bounded() -> None:
    (line,) = _lines(replace(SERVED, case_id="c" * 5000))
    assert len(str(line["case_id"])) == 200
    # a summary has no field for content or keys; the line has exactly these fields
    assert set(line) == {
        "ts", "event", "request_id", "method", "path", "status", "protocol", "duration_ms",
        "upstream_ms", "overhead_ms", "key_id", "workflow", "phase", "tier", "model",
        "model_id", "model_reported", "stream", "case_id", "audit_seq",
        "policy_hash", "tokens", "cost_usd", "fallbacks", "degraded",
    }  # fmt: skip


def test_disabled_writes_nothing() -> None:
    stream = io.StringIO()
    log = AccessLog(stream, enabled=False)
    log.write(SERVED)
    log.close()
    assert stream.getvalue() == ""
