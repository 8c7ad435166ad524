"""Replay provider throughput on the shared MMLU recording (both models, every item).

Baseline, measured in the same run on the same requests: the bare dict lookup of the
recorded item and score — the floor any replay must pay. Cold = first pass (token counts
computed); warm = later passes (prompt token counts cached per item).

    python bench/bench_replay_provider.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from phaseroute.providers import CompletionRequest, Message, ReplayProvider
from phaseroute.recorded import read_recorded

MMLU = Path(__file__).resolve().parent.parent / "examples" / "mmlu" / "mmlu.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--path", type=Path, default=MMLU)
    args = parser.parse_args()

    started = time.perf_counter()
    outcomes = read_recorded(args.path)
    read_s = time.perf_counter() - started
    requests = [
        CompletionRequest(model=m, messages=(Message("user", "x"),), metadata={"item": it.item})
        for m in outcomes.models
        for it in outcomes.items
    ]

    def baseline() -> float:
        by_id = outcomes.by_id
        t = time.perf_counter()
        for r in requests:
            _ = by_id[r.metadata["item"]].scores[r.model]
        return (time.perf_counter() - t) / len(requests) * 1e6

    replay = ReplayProvider(outcomes)

    def replayed() -> float:
        t = time.perf_counter()
        for r in requests:
            replay.complete(r)
        return (time.perf_counter() - t) / len(requests) * 1e6

    cold = replayed()
    warm = statistics.median(replayed() for _ in range(args.rounds))
    base = statistics.median(baseline() for _ in range(args.rounds))
    print(f"file: {args.path.name}, {len(outcomes)} items x {len(outcomes.models)} models")
    print(f"read_recorded:                {read_s:.2f} s")
    print(f"baseline dict lookup:         {base:.2f} us/call (median of {args.rounds})")
    print(f"ReplayProvider.complete cold: {cold:.1f} us/call (one pass, counts tokens)")
    print(f"ReplayProvider.complete warm: {warm:.2f} us/call (median of {args.rounds})")
    print(f"whole file, both models, cold: {cold * len(requests) / 1e6:.2f} s")


if __name__ == "__main__":
    main()
