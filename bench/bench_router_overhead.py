"""The router's own overhead per call, with a provider that answers instantly.

Measures, in one run, p50/p99 of:
  bare      — `provider.complete(request)` on the instant provider (the baseline);
  decision  — `router.decide(workflow, phase)`: the plan lookup alone;
  stack     — `router.complete(...)`: decision + request validation + retry/fallback wrapper
              (with its bounded attempt on a worker thread) + pricing + ledger enqueue;
  stack (no attempt timeout) — the same with `attempt_timeout_s=None` (attempt in the
              caller's thread; deadline still checked between attempts).
Overhead = stack - bare. Run: python bench/bench_router_overhead.py [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from phaseroute.costs import PriceBook
from phaseroute.policy import load_plan
from phaseroute.providers import CompletionRequest, Message
from phaseroute.runtime import RetryPolicy, Router, UsageLedger
from phaseroute.testing.fake import FakeProvider

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "aml" / "phaseroute.yaml"
WF, PHASE = "aml_alert_review", "typology_classification"
MESSAGES = [{"role": "user", "content": "Classify the typology of alert 42."}]


def timings(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(n // 10, 500)):  # warm-up
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if q < 100 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    n = args.calls
    plan = load_plan(POLICY)
    provider = FakeProvider("anthropic", reply="layering through shell companies")
    request = CompletionRequest(
        model=plan.models["opus"].model_id, messages=(Message("user", "x"),)
    )
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, list[float]] = {}
        results["bare provider call"] = timings(lambda: provider.complete(request), n)
        for label, timeout in (("stack", 60.0), ("stack, attempt in caller thread", None)):
            ledger = UsageLedger.open(Path(tmp) / f"{timeout}.db")
            router = Router(
                plan,
                {"anthropic": provider},
                prices=PriceBook.from_policy(plan.policy),
                ledger=ledger,
                retry=RetryPolicy(attempt_timeout_s=timeout),
            )
            if timeout is not None:
                results["decision"] = timings(lambda r=router: r.decide(WF, PHASE), n)
            results[f"{label} + accounting"] = timings(
                lambda r=router: r.complete(WF, PHASE, MESSAGES), n
            )
            t0 = time.perf_counter()
            router.close()  # drains the ledger: every row written
            drain = time.perf_counter() - t0
            rows = UsageLedger.open(Path(tmp) / f"{timeout}.db")
            written = sum(t.calls for t in rows.totals())
            rows.close()
            print(f"[{label}] ledger rows written: {written}, drain on close {drain:.3f}s")
    bare = statistics.median(results["bare provider call"])
    print(f"\n{n} calls each; microseconds per call\n")
    print(f"{'measure':42} {'p50':>9} {'p99':>9} {'p50 - bare':>11}")
    for label, values in results.items():
        p50 = statistics.median(values)
        extra = "" if label in ("bare provider call", "decision") else f"{p50 - bare:11.1f}"
        print(f"{label:42} {p50:9.1f} {pct(values, 99):9.1f} {extra}")


if __name__ == "__main__":
    main()
