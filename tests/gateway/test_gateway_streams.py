"""Streams on the wire: the end of an answer is held until its record commits; a cut or
errored upstream stream, or a failed audit append, reaches the client as an error event —
never a clean end; a client that disconnects cancels the upstream call, and the ledger
says so."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from conftest import Clients
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, serve

from phaseroute.testing import Outcome, OutcomeKind, Upstream
from phaseroute.testing.fake import MemoryAuditTrail


class GatedAudit(MemoryAuditTrail):
    """An audit sink whose appends wait for `release` (to watch what the client sees)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.release.set()
        self.waiting = threading.Event()

    def append(self, entry: Any) -> Any:
        self.waiting.set()
        self.release.wait(10)
        return super().append(entry)


@pytest.fixture(scope="module")
def audit() -> GatedAudit:
    return GatedAudit()


@pytest.fixture(scope="module")
def gw(policy: Path, audit: GatedAudit) -> Iterator[Served]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy, audit=audit) as served:
            yield served


def _events(raw: bytes) -> list[str]:
    return [e.split(b"\n", 1)[0].decode() for e in raw.split(b"\n\n") if e]


def test_an_audited_stream_holds_its_end_until_the_record_commits(
    gw: Served, audit: GatedAudit
) -> None:
    audit.release.clear()
    audit.waiting.clear()
    seen: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        body = {
            "model": "coding/review",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "review this change please"}],
        }
        with httpx2.stream("POST", f"{gw.url}/v1/messages", json=body, timeout=20) as r:
            for chunk in r.iter_bytes():
                seen.append(chunk)
        done.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert audit.waiting.wait(10), "the audit append never started"
        time.sleep(0.3)  # whatever the gateway would send early has arrived by now
        early = _events(b"".join(seen))
        assert "event: content_block_delta" in early
        assert "event: message_delta" not in early
        assert "event: message_stop" not in early
        assert not done.is_set()
    finally:
        audit.release.set()
    reader.join(10)
    late = _events(b"".join(seen))
    assert late[-2:] == ["event: message_delta", "event: message_stop"]
    assert audit.entries[-1].phase == "review"
    assert audit.entries[-1].stream_complete is True


def test_a_failed_audit_append_ends_the_stream_with_an_error_event(
    gw: Served, audit: GatedAudit, clients: Clients
) -> None:
    audit.failing = True
    try:
        client = clients.anthropic(gw.url)
        with (
            pytest.raises(anthropic.APIStatusError, match="audit record"),
            client.messages.stream(
                model="coding/review",
                max_tokens=50,
                messages=[{"role": "user", "content": "review"}],
            ) as stream,
        ):
            for _ in stream.text_stream:
                pass
    finally:
        audit.failing = False


@pytest.mark.parametrize("kind", [OutcomeKind.CUT_OFF, OutcomeKind.STREAM_ERROR])
def test_a_broken_upstream_stream_is_an_error_for_anthropic_clients(
    gw: Served, upstream: Upstream, kind: OutcomeKind, clients: Clients
) -> None:
    upstream.enqueue("claude-haiku-test", Outcome(kind, after_deltas=2))
    client = clients.anthropic(gw.url)
    got: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="incomplete"),
        client.messages.stream(
            model="coding/execution",
            max_tokens=50,
            messages=[{"role": "user", "content": "a long enough question to stream"}],
        ) as stream,
    ):
        got.extend(stream.text_stream)
    assert got  # the answer had started: the error came inside the 200 stream


@pytest.mark.parametrize("kind", [OutcomeKind.CUT_OFF, OutcomeKind.STREAM_ERROR])
def test_a_broken_upstream_stream_is_an_error_for_openai_clients(
    gw: Served, upstream: Upstream, kind: OutcomeKind, clients: Clients
) -> None:
    upstream.enqueue("gpt-mini-test", Outcome(kind, after_deltas=2))
    client = clients.openai(gw.openai_url)
    with pytest.raises(openai.APIError, match="incomplete"):
        for _ in client.chat.completions.create(
            model="support/triage",
            messages=[{"role": "user", "content": "a long enough question to stream"}],
            stream=True,
        ):
            pass


def _ledger_rows(gw: Served) -> list[dict[str, Any]]:
    ledger = gw.ledger
    assert ledger is not None
    ledger.flush()
    return list(ledger.records())


def test_a_client_that_disconnects_cancels_the_call_and_the_ledger_says_so(
    gw: Served, upstream: Upstream
) -> None:
    upstream.enqueue("gpt-big-test", Outcome(OutcomeKind.HANG))
    body = {"model": "support/answer", "messages": [{"role": "user", "content": "wait"}]}
    with pytest.raises(httpx2.ReadTimeout):
        httpx2.post(f"{gw.openai_url}/chat/completions", json=body, timeout=1.0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [r for r in _ledger_rows(gw) if r["phase"] == "answer"]
        if rows and rows[-1]["outcome"] == "cancelled":
            break
        time.sleep(0.1)
    assert rows[-1]["outcome"] == "cancelled"


def test_a_streaming_client_that_disconnects_is_recorded_incomplete(
    gw: Served, upstream: Upstream
) -> None:
    upstream.program("claude-opus-test", delta_delay_s=0.5, chunk_chars=2)
    try:
        body = {
            "model": "coding/planning",
            "max_tokens": 200,
            "stream": True,
            "messages": [{"role": "user", "content": "a slow and long answer please"}],
        }
        with httpx2.stream("POST", f"{gw.url}/v1/messages", json=body, timeout=10) as r:
            for chunk in r.iter_bytes():
                if b"content_block_delta" in chunk:
                    break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = [r for r in _ledger_rows(gw) if r["phase"] == "planning"]
            if rows and rows[-1]["outcome"] == "incomplete":
                break
            time.sleep(0.1)
        assert rows[-1]["outcome"] == "incomplete"
    finally:
        upstream.program("claude-opus-test")
