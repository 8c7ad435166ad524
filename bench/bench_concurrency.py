"""Async calls under concurrency: `Router.acomplete` against the bare SDK, same upstream, same run.

A fast local upstream (`phaseroute.testing.upstream`, in its own process so its threads do
not compete with the client for the GIL) answers the Anthropic Messages API at once. Each
client runs at concurrency 1, 16 and 64 (that many tasks, each calling in a loop), in
interleaved rounds; the figures are per call latency p50/p99 and the garbage collections
(count per generation, and their total pause) during the timed calls:

  sdk      — `anthropic.AsyncAnthropic(...).messages.create(...)` (the baseline);
  router   — `Router.acomplete(...)` on a policy whose provider is that upstream (decision,
             retry/fallback wrapper with its attempt timeout, pricing, ledger);
  litellm  — `litellm.acompletion(model="anthropic/...")`, the peer a user would pick, when
             `litellm` is importable. It is NOT a phaseroute dependency: install it only in
             the environment that runs this benchmark (a separate venv is best, e.g.
             `python -m venv /tmp/bench && /tmp/bench/bin/pip install -e . litellm`).

Run: python bench/bench_concurrency.py [--calls 800] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL = "claude-bench-1"
KEY = "bench-key-0123456789"
MESSAGES = [{"role": "user", "content": "Is alert 42 above the threshold?"}]
CONCURRENCY = (1, 16, 64)

UPSTREAM = """
import sys
from phaseroute.testing.upstream import ModelBehaviour, Upstream
with Upstream(default=ModelBehaviour(reply="yes, above the threshold")) as up:
    print(up.base_url, flush=True)
    sys.stdin.read()
"""

POLICY = """
version: 1
tiers: [standard, frontier]
providers:
  up: {{type: anthropic, api_key: 'env:PHASEROUTE_BENCH_KEY', base_url: '{url}'}}
models:
  mid:
    {{provider: up, id: {model}-mid, tier: standard,
      price: {{input_per_mtok: 1, output_per_mtok: 5}}}}
  top:
    {{provider: up, id: {model}, tier: frontier,
      price: {{input_per_mtok: 5, output_per_mtok: 25}}}}
workflows:
  wf:
    phases:
      judge: {{kind: judgment, catastrophic_error: missed_risk}}
"""

Call = Callable[[], Awaitable[object]]
Client = Callable[[], AbstractAsyncContextManager[Call]]


@dataclass
class GcWatch:
    """Collections per generation and their pause, counted through `gc.callbacks`."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    pause_s: float = 0.0
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pause_s += time.perf_counter() - self._started
            self.counts[info["generation"]] += 1


@dataclass
class Sample:
    latencies_s: list[float] = field(default_factory=list)
    gc_counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    gc_pause_s: float = 0.0
    wall_s: float = 0.0


async def drive(call: Call, concurrency: int, calls: int, sample: Sample) -> None:
    per_task = max(1, calls // concurrency)
    for _ in range(min(10, per_task)):  # warm-up: connections opened, caches filled
        await call()
    clock = time.perf_counter

    async def worker() -> None:
        for _ in range(per_task):
            t0 = clock()
            await call()
            sample.latencies_s.append(clock() - t0)

    watch = GcWatch()
    gc.callbacks.append(watch)
    started = clock()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        gc.callbacks.remove(watch)
    sample.wall_s += clock() - started
    sample.gc_counts = [a + b for a, b in zip(sample.gc_counts, watch.counts, strict=True)]
    sample.gc_pause_s += watch.pause_s


def sdk_client(url: str) -> Client:
    import anthropic

    @asynccontextmanager
    async def open_() -> Any:
        client = anthropic.AsyncAnthropic(api_key=KEY, base_url=url, max_retries=0, timeout=30)

        async def call() -> object:
            return await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)

        try:
            yield call
        finally:
            await client.close()

    return open_


def router_client(policy: Path, database: Path) -> Client:
    from phaseroute.runtime import RetryPolicy, Router

    @asynccontextmanager
    async def open_() -> Any:
        router = Router.from_policy(
            policy, database=database, retry=RetryPolicy(attempt_timeout_s=30.0)
        )

        async def call() -> object:
            return await router.acomplete("wf", "judge", MESSAGES, max_tokens=64)

        try:
            yield call
        finally:
            await router.aclose()

    return open_


def litellm_client(url: str) -> Client | None:
    try:
        import litellm
    except ImportError:
        return None
    litellm.suppress_debug_info = True

    @asynccontextmanager
    async def open_() -> Any:
        async def call() -> object:
            return await litellm.acompletion(
                model=f"anthropic/{MODEL}",
                messages=MESSAGES,
                max_tokens=64,
                api_base=url,
                api_key=KEY,
                num_retries=0,
            )

        yield call

    return open_


def run(client: Client, concurrency: int, calls: int, sample: Sample) -> None:
    async def main() -> None:
        async with client() as call:
            await drive(call, concurrency, calls, sample)

    gc.collect()
    asyncio.run(main())


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=800, help="timed calls per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    os.environ["PHASEROUTE_BENCH_KEY"] = KEY
    upstream = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert upstream.stdout is not None
    url = upstream.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            policy = Path(tmp) / "phaseroute.yaml"
            policy.write_text(POLICY.format(url=url, model=MODEL))
            clients: dict[str, Client] = {
                "sdk": sdk_client(url),
                "router": router_client(policy, Path(tmp) / "usage.db"),
            }
            peer = litellm_client(url)
            if peer is not None:
                clients["litellm"] = peer
            else:
                print("litellm is not installed here: its rows are left out (see the docstring)")
            samples = {(name, c): Sample() for name in clients for c in CONCURRENCY}
            for _ in range(args.rounds):
                for c in CONCURRENCY:
                    for name, client in clients.items():
                        run(client, c, args.calls, samples[(name, c)])
            report(samples, clients, args)
    finally:
        assert upstream.stdin is not None
        upstream.stdin.close()
        upstream.wait(timeout=30)


def report(samples: dict[tuple[str, int], Sample], clients: dict[str, Client], args: Any) -> None:
    print(
        f"{args.rounds} interleaved rounds x {args.calls} timed calls per client and concurrency;"
        f" python {sys.version.split()[0]}"
    )
    head = f"{'client':8} {'c':>3} {'p50 ms':>8} {'p99 ms':>8} {'p99/sdk':>8} {'calls/s':>8}"
    print(head + f" {'gc gen0/1/2 per 1k calls':>26} {'gc pause ms':>12}")
    for c in CONCURRENCY:
        base = pct(samples[("sdk", c)].latencies_s, 99)
        for name in clients:
            s = samples[(name, c)]
            n = len(s.latencies_s)
            per_k = "/".join(f"{1000 * g / n:.1f}" for g in s.gc_counts)
            print(
                f"{name:8} {c:>3} {1000 * pct(s.latencies_s, 50):8.2f} "
                f"{1000 * pct(s.latencies_s, 99):8.2f} {pct(s.latencies_s, 99) / base:7.2f}x "
                f"{n / s.wall_s:8.0f} {per_k:>26} {1000 * s.gc_pause_s:12.1f}"
            )


if __name__ == "__main__":
    main()
