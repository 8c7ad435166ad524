"""The async hot path leaves the garbage collector alone: under 16 concurrent calls through
the official SDK against the local upstream, `Router.acomplete` and `Router.astream` set off
about as many collections as the bare SDK making the same calls (a per-call `wait_for` task,
or one per streamed event, made several times as many and stalled every call in flight).

The upstream runs in its own process, so its threads' allocations are not counted here."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from runtime_policies import wire_policy, write_policy

from phaseroute.errors import Overloaded
from phaseroute.policy import load_plan
from phaseroute.runtime import RetryPolicy, Router
from phaseroute.testing.fake import FakeClock, FakeProvider

KEY = "test-key-0123456789"
MODEL = "claude-gc"
CONCURRENCY = 16
CALLS = 320
MESSAGES = [{"role": "user", "content": "Is alert 42 above the threshold?"}]
UPSTREAM = """
import sys
from phaseroute.testing.upstream import ModelBehaviour, Upstream
with Upstream(default=ModelBehaviour(reply="yes, the alert is above the threshold")) as up:
    print(up.base_url, flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()


async def collections(call: Callable[[], Awaitable[object]]) -> int:
    """Generation-0 collections during CALLS calls, CONCURRENCY at a time (after a warm-up)."""
    for _ in range(10):
        await call()
    counted = [0]

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 0:
            counted[0] += 1

    async def worker() -> None:
        for _ in range(CALLS // CONCURRENCY):
            await call()

    gc.collect()
    gc.callbacks.append(watch)
    try:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    finally:
        gc.callbacks.remove(watch)
    return counted[0]


def bare_sdk(base_url: str, stream: bool) -> int:
    async def run() -> int:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=base_url, max_retries=0)

        async def call() -> object:
            if not stream:
                return await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
            events = await client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=MESSAGES,
                stream=True,  # type: ignore[arg-type]
            )
            return [e async for e in events]

        try:
            return await collections(call)
        finally:
            await client.close()

    return asyncio.run(run())


def routed(tmp_path: Path, base_url: str, stream: bool) -> int:
    policy = wire_policy(tmp_path, base_url, "anthropic", key=KEY, top=MODEL)
    router = Router.from_policy(
        policy, database=tmp_path / "usage.db", retry=RetryPolicy(attempt_timeout_s=30.0)
    )

    async def call() -> object:
        if not stream:
            return await router.acomplete("wf", "answer", MESSAGES, max_tokens=64)
        return [d async for d in router.astream("wf", "answer", MESSAGES, max_tokens=64)]

    async def run() -> int:
        async with router:
            return await collections(call)

    return asyncio.run(run())


@pytest.mark.parametrize("stream", [False, True], ids=["acomplete", "astream"])
def test_routed_async_calls_collect_about_as_often_as_the_bare_sdk(
    tmp_path: Path, base_url: str, stream: bool
) -> None:
    sdk = bare_sdk(base_url, stream)
    router = routed(tmp_path, base_url, stream)
    # The router does more per call (decision, retries, pricing, ledger), so some slack.
    assert router <= 2 * sdk + 4, f"router {router} vs sdk {sdk} gen-0 collections"


def unreachable_per_call(run: Callable[[], object], calls: int = 50) -> float:
    """Objects the cycle collector finds per call: garbage reference counting could not free."""
    run()
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            run()
        return gc.collect() / calls
    finally:
        gc.enable()


@pytest.mark.parametrize("fails", [True, False], ids=["failing", "answered"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_routed_calls_leave_no_reference_cycles(tmp_path: Path, mode: str, fails: bool) -> None:
    """Failing calls fail twice on their primary (overloaded) and fall back: the handled
    errors are kept without their tracebacks, so nothing is left for the cycle collector;
    nor does an answered call leave any."""
    plan = load_plan(write_policy(tmp_path))
    main = FakeProvider(
        "main",
        faults=lambda r: Overloaded("busy") if fails and r.model == "claude-opus-4-1" else None,
    )
    errors = ["Overloaded"] * 2 if fails else []
    router = Router(
        plan,
        {"main": main, "backup": FakeProvider("backup")},
        retry=RetryPolicy(max_attempts=2, base_delay_s=0, attempt_timeout_s=30),
        clock=FakeClock(),
    )
    if mode == "sync":
        per_call = unreachable_per_call(lambda: router.complete("wf", "review", MESSAGES))
    else:

        async def calls() -> float:
            async def one() -> None:
                result = await router.acomplete("wf", "review", MESSAGES)
                assert [a.error_type for a in result.attempts] == [*errors, None]

            await one()
            gc.collect()
            gc.disable()
            try:
                for _ in range(50):
                    await one()
                return gc.collect() / 50
            finally:
                gc.enable()

        per_call = asyncio.run(calls())
    router.close()
    assert per_call == 0
