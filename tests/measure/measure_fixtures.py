"""Small policies and datasets for the measurement tests (start valid, change one thing)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

TWO_TIERS: dict[str, Any] = {
    "version": 1,
    "tiers": ["cheap", "top"],
    "providers": {"p": {"type": "anthropic", "api_key": "env:KEY"}},
    "models": {
        "small": {"provider": "p", "id": "claude-haiku-5-5", "tier": "cheap"},
        "large": {"provider": "p", "id": "claude-opus-5-5", "tier": "top"},
    },
    "controls": {"human": {"description": "an analyst reads every case"}},
    "workflows": {
        "wf": {
            "phases": {
                "screen": {
                    "kind": "screening",
                    "catastrophic_error": "throughput",
                    "caught_by": "human",
                    "quality": {"metric": "accuracy", "margin": 0.05},
                },
                "triage": {
                    "kind": "judgment",
                    "catastrophic_error": "missed_risk",
                    "quality": {"metric": "recall", "positive_label": "risk", "margin": 0.05},
                },
            }
        }
    },
}


def two_tiers() -> dict[str, Any]:
    return copy.deepcopy(TWO_TIERS)


def write_policy(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def recorded_rows(
    phase: str, n: int, top: list[int], cheap: list[int], *, top_id: str, cheap_id: str
) -> list[dict[str, Any]]:
    """`n` recorded rows of `phase`, scores cycling through the given 0/1 patterns."""
    return [
        {
            "phase": phase,
            "item": f"{phase}-{i:04d}",
            "prompt": f"question {i} of {phase}",
            "scores": {top_id: top[i % len(top)], cheap_id: cheap[i % len(cheap)]},
        }
        for i in range(n)
    ]


class Scores:
    """Fixed per-model 0/1 scores; counts how many scores of each model were asked for."""

    def __init__(self, by_model: Mapping[str, Sequence[float]]) -> None:
        self.by_model = {k: list(v) for k, v in by_model.items()}
        self.asked: dict[str, int] = dict.fromkeys(by_model, 0)

    @property
    def size(self) -> int:
        return len(next(iter(self.by_model.values())))

    @property
    def binary(self) -> bool:
        return True

    def scores(self, model: str, indices: Sequence[int]) -> list[float]:
        self.asked[model] += len(indices)
        return [self.by_model[model][i] for i in indices]


def bernoulli(p: float, n: int, seed: int) -> list[float]:
    return [float(x) for x in np.random.default_rng(seed).random(n) < p]
