"""Per-call pricing cost: PriceBook.cost against genai-prices' own calc_price (the baseline).

The router prices every call twice (the model that served it and the top-tier
counterfactual), so this is on the hot path. Both are measured in the same run on the
same usages; medians of per-call times over several rounds are printed.

    python bench/bench_pricing.py [--calls 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import genai_prices
from genai_prices.types import PriceCalculation

from phaseroute.costs import PriceBook
from phaseroute.policy import load_policy
from phaseroute.providers._base import Usage

AML = Path(__file__).resolve().parent.parent / "examples" / "aml" / "phaseroute.yaml"


def per_call_us(fn: Callable[[Usage], object], usages: list[Usage], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for usage in usages:
            fn(usage)
        out.append((time.perf_counter() - start) / len(usages) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(3)
    usages = [
        Usage(rng.randint(100, 250_000), rng.randint(1, 4000), rng.randint(0, 5000))
        for _ in range(args.calls)
    ]
    book = PriceBook.from_policy(load_policy(AML).policy)
    ref = book.models["opus"].ref

    def library(u: Usage) -> PriceCalculation:
        total_in = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens
        gp_usage = genai_prices.Usage(
            input_tokens=total_in,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens,
        )
        return genai_prices.calc_price(gp_usage, model_ref=ref, provider_id="anthropic")

    def ours(u: Usage) -> object:
        return book.cost("opus", u)

    mismatches = sum(1 for u in usages[:2000] if book.cost("opus", u) != library(u).total_price)
    base = statistics.median(per_call_us(library, usages, args.rounds))
    fast = statistics.median(per_call_us(ours, usages, args.rounds))
    print(f"price data: {book.version}; model {ref}; {args.calls:,} calls x {args.rounds} rounds")
    print(f"genai_prices.calc_price (baseline): {base:8.2f} us/call (median)")
    print(f"PriceBook.cost:                     {fast:8.2f} us/call (median)")
    print(f"speed-up: {base / fast:.1f}x; disagreements on 2,000 usages: {mismatches}")


if __name__ == "__main__":
    main()
