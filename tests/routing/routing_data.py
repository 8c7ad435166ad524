"""Generated items whose prompts carry their difficulty: a word marks the items on which the
cheaper models tend to miss, so a predictor has something to learn; any score scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

WORDS = ["ledger", "clause", "filing", "client", "wire", "trust", "invoice", "risk"]


def generate(
    n: int, models: int, *, scale: str = "binary", seed: int = 0
) -> tuple[list[str], NDArray[np.float64]]:
    """``n`` prompts and an n × models score matrix on 0..1 (last model the top tier).

    A third of the items are "tricky": cheaper models mostly miss them; on the rest they
    nearly match the top tier. ``scale``: binary, fraction (tenths) or judge (1..10 → 0..1).
    """
    rng = np.random.default_rng(seed)
    prompts: list[str] = []
    scores = np.zeros((n, models))
    for i in range(n):
        tricky = rng.random() < 1 / 3
        body = " ".join(rng.choice(WORDS, size=int(rng.integers(5, 40))))
        prompts.append(("tricky " if tricky else "plain ") + body)
        for m in range(models):
            top = m == models - 1
            p = 0.9 if top else (0.35 + 0.1 * m if tricky else 0.88)
            if scale == "binary":
                scores[i, m] = float(rng.random() < p)
            elif scale == "fraction":
                scores[i, m] = round(float(np.clip(rng.normal(p, 0.15), 0, 1)), 1)
            else:
                scores[i, m] = (int(np.clip(round(1 + 9 * rng.normal(p, 0.1)), 1, 10)) - 1) / 9
    return prompts, scores


def write_recorded(
    path: Path, phases: dict[str, int], models: list[str], *, scale: str = "binary", seed: int = 0
) -> Path:
    """A recorded-outcome file with ``phases[name]`` items per phase."""
    lines = []
    for k, (phase, n) in enumerate(phases.items()):
        prompts, scores = generate(n, len(models), scale=scale, seed=seed + k)
        for i, prompt in enumerate(prompts):
            raw = scores[i] * 9 + 1 if scale == "judge" else scores[i]
            row = {
                "phase": phase,
                "item": f"{phase}-{i:04d}",
                "prompt": prompt,
                "scores": {m: round(float(v), 3) for m, v in zip(models, raw, strict=True)},
            }
            lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
