"""Generated recorded-outcome files the benchmark has never seen: other phases, 3–4 models,
0/1, fractional or 1–10 judge scores, with or without recorded answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

WORDS = [
    "alert",
    "ledger",
    "clause",
    "filing",
    "review",
    "client",
    "wire",
    "offshore",
    "trust",
    "invoice",
    "risk",
    "narrative",
]


def write_outcomes(
    path: Path,
    phases: Mapping[str, Mapping[str, float]],
    *,
    items_per_phase: int = 300,
    scale: str = "binary",
    responses: bool = False,
    seed: int = 7,
) -> Path:
    """Write a JSONL file in which model ``m`` on phase ``p`` has mean quality ``phases[p][m]``
    (0..1). ``scale`` is "binary" (0/1), "fraction" (0..1 in tenths) or "judge" (1..10)."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    for phase, quality in phases.items():
        for i in range(items_per_phase):
            length = int(rng.integers(5, 60))
            prompt = " ".join(rng.choice(WORDS, size=length))
            # one shared item difficulty, so models' scores are paired, as in real data
            difficulty = float(rng.normal(0.0, 0.15))
            scores: dict[str, float] = {}
            answers: dict[str, str] = {}
            for model, q in quality.items():
                p = float(np.clip(q - difficulty, 0.0, 1.0))
                if scale == "binary":
                    scores[model] = int(rng.random() < p)
                elif scale == "fraction":
                    scores[model] = round(float(np.clip(rng.normal(p, 0.15), 0, 1)), 1)
                else:
                    scores[model] = int(np.clip(round(1 + 9 * rng.normal(p, 0.12)), 1, 10))
                answers[model] = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 40))))
            row: dict[str, object] = {
                "phase": phase,
                "item": f"{phase}-{i:04d}",
                "prompt": prompt,
                "scores": scores,
            }
            if responses:
                row["responses"] = answers
            lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def uniform_phases(
    names: Sequence[str], models: Sequence[str], gaps: Sequence[float]
) -> dict[str, dict[str, float]]:
    """Phases where the top model scores 0.85 and every other model ``gap`` lower."""
    return {
        name: {m: 0.85 if j == len(models) - 1 else 0.85 - gap for j, m in enumerate(models)}
        for name, gap in zip(names, gaps, strict=True)
    }
