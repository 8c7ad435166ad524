"""Streaming routed calls: deltas, the final result, retries before the first event, and
cut-off streams that are never reported complete."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from runtime_policies import write_policy

from phaseroute.errors import AuditWriteFailed, IncompleteResponse, Overloaded, RequestError
from phaseroute.policy import load_plan
from phaseroute.runtime import RetryPolicy, Router, UsageLedger
from phaseroute.testing.fake import FakeClock, FakeProvider, Fault, MemoryAuditTrail, scripted

MSG = [{"role": "user", "content": "draft the narrative"}]
TEXT = "the subject moved funds through three accounts"


def make(tmp_path: Path, main: FakeProvider, audit: MemoryAuditTrail | None = None) -> Router:
    plan = load_plan(write_policy(tmp_path))
    return Router(
        plan,
        {"main": main, "backup": FakeProvider("backup", reply=TEXT)},
        retry=RetryPolicy(max_attempts=2, attempt_timeout_s=0.2, deadline_s=5),
        ledger=UsageLedger.open(tmp_path / "usage.db"),
        audit=audit if audit is not None else MemoryAuditTrail(),
        clock=FakeClock(),
    )


def test_stream_yields_deltas_then_the_result(tmp_path: Path) -> None:
    router = make(tmp_path, FakeProvider("main", reply=TEXT))
    stream = router.stream("wf", "review", MSG)
    with pytest.raises(RequestError, match="has not completed"):
        _ = stream.result
    deltas = list(stream)
    assert len(deltas) == len(TEXT.split())
    assert "".join(deltas) == TEXT
    result = stream.result
    assert result.text == TEXT
    assert result.stream
    assert result.model == "large"
    assert result.response.complete


def test_stream_retries_and_falls_back_before_the_first_event(tmp_path: Path) -> None:
    main = FakeProvider("main", reply=TEXT, faults=scripted(Overloaded("busy"), Fault.HANG))
    router = make(tmp_path, main)
    stream = router.stream("wf", "review", MSG)
    assert "".join(stream) == TEXT
    result = stream.result
    assert [a.error_type for a in result.attempts] == ["Overloaded", "ProviderTimeout", None]
    assert result.model == "large2"
    assert result.fallbacks == ("large2",)
    router.close()


def test_a_cut_off_stream_raises_and_is_recorded_incomplete(tmp_path: Path) -> None:
    audit = MemoryAuditTrail()
    router = make(tmp_path, FakeProvider("main", reply=TEXT, faults=scripted(Fault.CUT)), audit)
    stream = router.stream("wf", "interpret", MSG, case_id="c9")
    got: list[str] = []
    with pytest.raises(IncompleteResponse, match=r"broke off|inside the stream"):
        got.extend(stream)
    assert got == ["the "]
    with pytest.raises(RequestError):
        _ = stream.result
    # the audit trail shows the partial answer, marked incomplete
    (entry,) = audit.entries
    assert entry.stream_complete is False
    assert entry.response_text == "the "
    router.ledger.flush()  # type: ignore[union-attr]
    rows = router.ledger.records()  # type: ignore[union-attr]
    assert [r["outcome"] for r in rows] == ["incomplete"]
    router.close()


def test_closing_a_stream_early_records_it_incomplete(tmp_path: Path) -> None:
    router = make(tmp_path, FakeProvider("main", reply=TEXT))
    with router.stream("wf", "review", MSG) as stream:
        for _ in stream:
            break
    router.ledger.flush()  # type: ignore[union-attr]
    assert [r["outcome"] for r in router.ledger.records()] == ["incomplete"]  # type: ignore[union-attr]
    router.close()


def test_audited_stream_fails_closed_when_the_append_fails(tmp_path: Path) -> None:
    router = make(tmp_path, FakeProvider("main", reply=TEXT), MemoryAuditTrail(failing=True))
    stream = router.stream("wf", "interpret", MSG)
    with pytest.raises(AuditWriteFailed):
        list(stream)
    with pytest.raises(RequestError):
        _ = stream.result


def test_escalation_phases_stream_only_validated_answers(tmp_path: Path) -> None:
    def reply(request):  # type: ignore[no-untyped-def]
        return "bad" if request.model == "claude-haiku-4-5" else '{"decision": "reject"}'

    router = make(tmp_path, FakeProvider("main", reply=reply))
    stream = router.stream("wf", "screen", MSG)
    assert list(stream) == ['{"decision": "reject"}']
    assert stream.result.model == "medium"
    assert len(stream.result.escalations) == 1


def test_async_stream(tmp_path: Path) -> None:
    # first call: overloaded, then answered; second call: cut off mid-stream
    main = FakeProvider("main", reply=TEXT, faults=scripted(Overloaded("busy"), None, Fault.CUT))
    router = make(tmp_path, main)

    async def run() -> tuple[str, str]:
        stream = router.astream("wf", "review", MSG)
        text = "".join([d async for d in stream])
        cut = router.astream("wf", "review", MSG)
        with pytest.raises(IncompleteResponse):
            async for _ in cut:
                pass
        return text, stream.result.model

    assert asyncio.run(run()) == (TEXT, "large")
