"""How many items does sequential testing consume on the MMLU subjects, against fixed tests?

Each MMLU subject of the recorded outcomes is a phase: reference gpt-4-1106-preview,
candidate Mixtral-8x7B, margin 2 points, alpha 0.05. Items are fed in a seeded random order
in batches, as the harness does, to `SequentialComparison` (anytime-valid, futility stop at
the subject size); a batch once requested is consumed whole. Baselines measured in the same
run, both at the same one-sided error rate:

* full subject — the fixed-sample Tango test on every item (what measuring costs without
  sequential testing);
* oracle fixed n — a fixed design sized for 80% power at the subject's true (full-subject)
  gap, capped at the subject size. It needs the answer in advance, so no real fixed design
  does better.

    python bench/bench_sequential.py [--orders 20] [--batch 20] [--margin 0.02]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from phaseroute.measure import SequentialComparison, compare_paired
from phaseroute.measure._stats_intervals import items_for_power
from phaseroute.recorded import read_recorded

DATA = Path(__file__).resolve().parents[1] / "examples" / "mmlu" / "mmlu.jsonl.gz"
REFERENCE = "gpt-4-1106-preview"
CANDIDATE = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--orders", type=int, default=20, help="seeded item orders per subject")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()

    outcomes = read_recorded(args.data)
    rows = []
    seq_seconds: list[float] = []
    started = time.perf_counter()
    for phase, items in sorted(outcomes.phases.items()):
        ref = np.array([it.scores[REFERENCE] for it in items])
        cand = np.array([it.scores[CANDIDATE] for it in items])
        n = ref.size
        fixed = compare_paired(ref, cand, margin=args.margin, alpha=args.alpha)
        variance = float(np.var(ref - cand))
        oracle = min(
            n, math.ceil(items_for_power(fixed.estimate.gap, variance, args.margin, args.alpha))
        )
        used, decisions, flagged = [], Counter[str](), 0
        for seed in range(args.orders):
            order = np.random.default_rng(seed).permutation(n)
            t0 = time.perf_counter()
            seq = SequentialComparison(margin=args.margin, alpha=args.alpha, max_items=n)
            consumed = 0
            for start in range(0, n, args.batch):
                batch = order[start : start + args.batch]
                seq.extend(ref[batch], cand[batch])
                consumed += batch.size
                if seq.decided:
                    break
            result = seq.result()
            seq_seconds.append(time.perf_counter() - t0)
            used.append(consumed)
            decisions[result.decision] += 1
            flagged += result.suspicious is not None
        rows.append((phase, n, oracle, statistics.median(used), fixed, decisions, flagged))
    elapsed = time.perf_counter() - started

    header = f"{'subject':<38} {'n':>5} {'oracle':>6} {'seq med':>7}  fixed decision"
    print(f"{header}   sequential decisions")
    for phase, n, oracle, used, fixed, decisions, flagged in rows:
        seq_text = ", ".join(f"{k} {v}" for k, v in decisions.most_common())
        flag = "  SUSPICIOUS" if fixed.suspicious or flagged else ""
        print(
            f"{phase:<38} {n:>5} {oracle:>6} {used:>7.0f}  {fixed.decision:<15}  {seq_text}{flag}"
        )

    full_total = sum(r[1] for r in rows)
    oracle_total = sum(r[2] for r in rows)
    seq_total = sum(r[3] for r in rows)
    vs_full = [r[3] / r[1] for r in rows]
    vs_oracle = [r[3] / r[2] for r in rows]
    decided_fixed = sum(r[4].decision != "inconclusive" for r in rows)
    decided_seq = sum(
        sum(v for k, v in r[5].items() if k != "inconclusive") / args.orders for r in rows
    )
    print()
    print(f"subjects: {len(rows)}, orders per subject: {args.orders}, batch: {args.batch}")
    print(f"items, full-subject fixed test : {full_total}")
    print(f"items, oracle fixed n (80% pwr): {oracle_total}")
    print(
        f"items, sequential (median/order): {seq_total:.0f}  "
        f"ratio vs full {seq_total / full_total:.2f} (median per subject "
        f"{statistics.median(vs_full):.2f}), vs oracle {seq_total / oracle_total:.2f} "
        f"(median {statistics.median(vs_oracle):.2f})"
    )
    print(
        f"decided (non_inferior or inferior): fixed full-subject {decided_fixed}/{len(rows)}, "
        f"sequential {decided_seq:.1f}/{len(rows)} on average over orders"
    )
    print(
        f"time per sequential subject: median {1000 * statistics.median(seq_seconds):.1f} ms; "
        f"whole run {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
