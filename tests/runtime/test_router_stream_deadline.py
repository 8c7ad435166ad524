"""`deadline_s` bounds a streamed call from start to its last byte: an upstream that keeps
trickling deltas (each well inside the attempt timeout) is cut at the deadline, raised as
`IncompleteResponse` and recorded incomplete in the ledger and the audit trail — through
both official SDKs, sync and async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_policies import wire_policy

from phaseroute.errors import IncompleteResponse, RequestError, RoutingUnavailable
from phaseroute.runtime import AsyncRoutedStream, RetryPolicy, Router
from phaseroute.testing.fake import MemoryAuditTrail
from phaseroute.testing.upstream import Upstream

MODEL = "claude-trickle"
REPLY = "x" * 40  # 10 deltas of 4 characters, one every GAP_S: 2.7 s in all
GAP_S = 0.3
RETRY = RetryPolicy(max_attempts=1, attempt_timeout_s=0.6, deadline_s=1.0)
SLACK_S = 0.5  # scheduling noise on a shared machine


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=4) as up:
        up.program(MODEL, reply=REPLY, chunk_chars=4, delta_delay_s=GAP_S)
        yield up


def router(tmp_path: Path, upstream: Upstream, sdk: str, audit: MemoryAuditTrail) -> Router:
    path = wire_policy(tmp_path, upstream.base_url, sdk, top=MODEL)
    return Router.from_policy(path, database=tmp_path / "usage.db", audit=audit, retry=RETRY)


def check_recorded_incomplete(r: Router, audit: MemoryAuditTrail, got: list[str]) -> None:
    assert 0 < len(got) < len(REPLY) // 4  # some deltas arrived, not all
    (entry,) = audit.entries
    assert entry.stream_complete is False
    assert entry.response_text == "".join(got)
    assert r.ledger is not None
    r.ledger.flush()
    assert [row["outcome"] for row in r.ledger.records()] == ["incomplete"]


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_a_trickling_stream_ends_at_the_deadline(
    tmp_path: Path, upstream: Upstream, sdk: str
) -> None:
    audit = MemoryAuditTrail()
    r = router(tmp_path, upstream, sdk, audit)
    got: list[str] = []
    stream = r.stream("wf", "judge", [{"role": "user", "content": "q"}])
    started = time.monotonic()
    with pytest.raises(IncompleteResponse, match=r"still running at the call's deadline of 1s"):
        got.extend(stream)
    assert time.monotonic() - started < RETRY.deadline_s + SLACK_S
    with pytest.raises(RequestError, match="has not completed"):
        _ = stream.result
    check_recorded_incomplete(r, audit, got)
    r.close()


async def drain(stream: AsyncRoutedStream, into: list[str]) -> None:
    async for delta in stream:
        into.append(delta)


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_a_trickling_async_stream_ends_at_the_deadline(
    tmp_path: Path, upstream: Upstream, sdk: str
) -> None:
    audit = MemoryAuditTrail()
    r = router(tmp_path, upstream, sdk, audit)
    got: list[str] = []

    async def run() -> float:
        started = time.monotonic()
        try:
            stream = r.astream("wf", "judge", [{"role": "user", "content": "q"}])
            with pytest.raises(IncompleteResponse, match=r"at the call's deadline of 1s"):
                await drain(stream, got)
            return time.monotonic() - started
        finally:
            await r.aclose()

    assert asyncio.run(run()) < RETRY.deadline_s + SLACK_S
    check_recorded_incomplete(r, audit, got)


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_a_stream_inside_the_deadline_completes(
    tmp_path: Path, upstream: Upstream, sdk: str
) -> None:
    audit = MemoryAuditTrail()
    r = router(tmp_path, upstream, sdk, audit)
    upstream.program("claude-quick", reply=REPLY, chunk_chars=4, delta_delay_s=0.01)
    path = wire_policy(tmp_path, upstream.base_url, sdk, top="claude-quick")
    with Router.from_policy(path, database=tmp_path / "q.db", audit=audit, retry=RETRY) as quick:
        stream = quick.stream("wf", "judge", [{"role": "user", "content": "q"}])
        assert "".join(stream) == REPLY
        assert stream.result.response.complete
    r.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_without_an_attempt_timeout_the_first_event_is_still_bounded_by_the_deadline(
    tmp_path: Path, upstream: Upstream, sdk: str, mode: str
) -> None:
    """`attempt_timeout_s=None` leaves attempts to the provider's own timeout (60 s here),
    but a stream whose first token is slower than the deadline still fails by the deadline."""
    model = f"claude-slow-first-{mode}"
    upstream.program(model, reply=REPLY, first_token_delay_s=3.0)
    path = wire_policy(tmp_path, upstream.base_url, sdk, top=model)
    retry = RetryPolicy(max_attempts=1, attempt_timeout_s=None, deadline_s=1.0)
    r = Router.from_policy(
        path, database=tmp_path / "usage.db", audit=MemoryAuditTrail(), retry=retry
    )
    messages = [{"role": "user", "content": "q"}]

    async def drain_async() -> None:
        async with r:
            await drain(r.astream("wf", "answer", messages), [])

    def run() -> None:
        if mode == "sync":
            "".join(r.stream("wf", "answer", messages))
        else:
            asyncio.run(drain_async())

    started = time.monotonic()
    with pytest.raises(RoutingUnavailable, match="ProviderTimeout"):
        run()
    assert time.monotonic() - started < retry.deadline_s + SLACK_S
    r.close()


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_without_an_attempt_timeout_an_async_call_still_ends_by_the_deadline(
    tmp_path: Path, upstream: Upstream, sdk: str
) -> None:
    model = "claude-slow-answer"
    upstream.program(model, reply=REPLY, first_token_delay_s=3.0)
    path = wire_policy(tmp_path, upstream.base_url, sdk, top=model)
    retry = RetryPolicy(max_attempts=1, attempt_timeout_s=None, deadline_s=1.0)
    r = Router.from_policy(path, database=tmp_path / "usage.db", retry=retry)

    async def call() -> None:
        async with r:
            await r.acomplete("wf", "answer", [{"role": "user", "content": "q"}])

    started = time.monotonic()
    with pytest.raises(RoutingUnavailable, match="ProviderTimeout"):
        asyncio.run(call())
    assert time.monotonic() - started < retry.deadline_s + SLACK_S
