"""Compile a generated policy of 1,000 phases across 50 workflows; print median timings.

Baseline measured in the same run: YAML parsing alone (libyaml via PyYAML), so the figure for
validation + compilation can be read as a ratio against the unavoidable parse cost.

    python bench/bench_compile.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import yaml

from phaseroute.policy import compile_policy, load_policy_text
from phaseroute.policy._loader import parse_yaml

KINDS = ["planning", "judgment", "screening", "extraction", "drafting", "execution", "review"]


def generate(workflows: int = 50, phases: int = 20, seed: int = 7) -> str:
    rng = random.Random(seed)
    wfs: dict[str, Any] = {}
    for w in range(workflows):
        names = [f"p{i:02d}" for i in range(phases)]
        ph: dict[str, Any] = {}
        for i, name in enumerate(names):
            later = names[i + 1 :]
            ph[name] = {
                "kind": rng.choice(KINDS),
                "catastrophic_error": rng.choice(["missed_risk", "throughput"]),
                "feeds": rng.sample(later, k=min(len(later), rng.randint(0, 3))),
                "volume": rng.randint(10, 50_000),
                "tokens": {"input": rng.randint(100, 9000), "output": rng.randint(10, 2000)},
                "audit": rng.random() < 0.05,
            }
            if rng.random() < 0.4:
                ph[name]["caught_by"] = "analyst"
        wfs[f"wf{w:02d}"] = {"phases": ph}
    doc = {
        "version": 1,
        "tiers": ["economy", "standard", "frontier"],
        "providers": {"anthropic": {"type": "anthropic"}},
        "models": {
            "haiku": {"provider": "anthropic", "id": "claude-haiku-5-5", "tier": "economy"},
            "sonnet": {"provider": "anthropic", "id": "claude-sonnet-5-5", "tier": "standard"},
            "opus": {"provider": "anthropic", "id": "claude-opus-5-5", "tier": "frontier"},
        },
        "controls": {"analyst": {"description": "human review"}},
        "workflows": wfs,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    text = generate()
    parse, total = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        parse_yaml(text, "bench.yaml")
        t1 = time.perf_counter()
        plan = compile_policy(load_policy_text(text, "bench.yaml"))
        t2 = time.perf_counter()
        parse.append(t1 - t0)
        total.append(t2 - t1)
    assert len(plan.decisions) == 1000
    p, t = statistics.median(parse), statistics.median(total)
    print(f"policy: 50 workflows x 20 phases = 1000 phases, {len(text) / 1024:.0f} KiB of YAML")
    print(f"YAML parse only (baseline):        median {p * 1000:7.1f} ms")
    print(f"parse + validate + compile (total): median {t * 1000:7.1f} ms")
    print(f"validate + compile beyond parsing:  median {(t - p) * 1000:7.1f} ms")
    print(
        f"total / parse ratio: {t / p:.2f}x; target total < 1000 ms: {'met' if t < 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
