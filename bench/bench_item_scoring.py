"""Per-call cost of certified per-item routing: scoring a 4k-token prompt.

Measures, in one run, p50/p99 of:
  digest    — SHA-256 of the prompt's UTF-8 bytes (what an audited call already pays; the
              same-run baseline);
  split     — `prompt.lower().split()`: reading the words once, the floor of a naive text
              feature (scoring no longer does it: it counts an ASCII prompt's words without
              building them and splits off only the hashed window);
  spin      — `sum(range(100_000))`: a fixed amount of interpreter work (about 1 ms on an idle
              modern core), to tell a slow or shared machine from a slow scorer;
  score     — `ItemPredictor.score(prompt)`: the word count (one translation and one count
              over the prompt's bytes), the 256-word window lower-cased and CRC-32-hashed into
              uni- and bigram buckets, shape features, and per cheaper model the sum of its
              weights over those buckets, read from one array indexed by bucket;
  decision  — `ItemRouting.choose(prompt)`: the score plus the threshold comparison, i.e.
              the whole per-call addition to the router's decision.
The predictor is built like a fitted one (two cheaper models, 150k non-zero bucket weights).
``--clock cpu`` times with the thread's CPU clock, which leaves out the time the OS gave other
processes: on a shared machine it tells the scorer's own cost from the queue for a core.
Run: python bench/bench_item_scoring.py [--calls N] [--tokens T] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time
from collections.abc import Callable

from phaseroute.policy import ItemRouting, ModelChoice
from phaseroute.routing import SHAPE_FEATURES, CandidateModel, HashingSpec, ItemPredictor


def predictor(weights: int, seed: int) -> ItemPredictor:
    rng = random.Random(seed)
    spec = HashingSpec()
    candidates = tuple(
        CandidateModel(
            model=f"cheap-{k}",
            intercept=rng.gauss(0, 1),
            shape=tuple(rng.gauss(0, 0.1) for _ in SHAPE_FEATURES),
            weights={rng.randrange(1 << spec.bits): rng.gauss(0, 0.5) for _ in range(weights)},
            positives=0.7,
            scale=1e-3,
        )
        for k in range(2)
    )
    return ItemPredictor(spec=spec, candidates=candidates, fit_items=1000)


def prompt(tokens: int, seed: int) -> str:
    """About ``tokens`` tokens of varied English-like text with numbers and punctuation."""
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        for _ in range(20_000)
    ]
    out: list[str] = []
    size = 0
    while size < tokens * 4:  # ~4 characters per token
        word = rng.choice(vocab) if rng.random() > 0.05 else str(rng.randint(0, 99999))
        out.append(word + (", " if rng.random() < 0.08 else ". " if rng.random() < 0.05 else " "))
        size += len(out[-1])
    return "".join(out)


def timings(
    steps: dict[str, Callable[[], object]], n: int, clock: Callable[[], int]
) -> dict[str, list[float]]:
    """Per step, ``n`` timed calls in ms; the steps take turns call by call (interleaved), so
    a burst of load on the shared machine hits every step alike."""
    for fn in steps.values():
        for _ in range(min(n // 10, 200)):
            fn()
    out: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(n):
        for name, fn in steps.items():
            t0 = clock()
            fn()
            out[name].append((clock() - t0) / 1e6)
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: time.perf_counter_ns; cpu: time.thread_time_ns (this thread's CPU time)",
    )
    args = parser.parse_args()
    pred = predictor(150_000, seed=1)
    texts = [prompt(args.tokens, seed=s) for s in range(8)]
    routing = ItemRouting(
        threshold=0.5,
        predictor=pred,
        candidates=tuple(ModelChoice(f"cheap-{k}", "p", f"id-{k}", "cheap", 0) for k in range(2)),
        max_loss=0.05,
        delta=0.05,
    )
    cycle = iter(range(10**9))

    def text() -> str:
        return texts[next(cycle) % len(texts)]

    rows = timings(
        {
            "digest": lambda: hashlib.sha256(text().encode()).hexdigest(),
            "split": lambda: text().lower().split(),
            "spin": lambda: sum(range(100_000)),
            "score": lambda: pred.score(text()),
            "decision": lambda: routing.choose(text()),
        },
        args.calls,
        time.thread_time_ns if args.clock == "cpu" else time.perf_counter_ns,
    )
    print(
        f"prompt ≈ {args.tokens} tokens ({len(texts[0]):,} characters), {args.calls} calls, "
        f"{args.clock} clock"
    )
    base50, base99 = p(rows["spin"], 0.5), p(rows["spin"], 0.99)
    for name, values in rows.items():
        p50, p99 = p(values, 0.5), p(values, 0.99)
        print(
            f"{name:9s} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  "
            f"(× spin: p50 {p50 / base50:5.2f}, p99 {p99 / base99:5.2f})"
        )


if __name__ == "__main__":
    main()
