"""A routing decision per phase, and the per-phase comparisons every measured strategy uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaseroute.bench._data import BenchData, IntArray
from phaseroute.measure import NonInferiority, compare_paired


@dataclass(frozen=True)
class FloorBound:
    """How a floor plan was judged safe: predicted total loss and its upper bound, 0..1 scale.

    ``loss`` is the predicted mean loss over all items against the reference, ``upper`` its
    one-sided upper bound at ``alpha``, ``budget`` = ``(1 - floor) × reference score``.
    ``spread`` (tau) is the estimated spread of true gaps between phases (the shrinkage prior).
    """

    loss: float
    upper: float
    budget: float
    alpha: float
    spread: float
    predictive: bool  # the bound also covers sampling of the items the plan will serve


@dataclass(frozen=True)
class PhaseRouting:
    """A model per phase (index into `BenchData.models`) and the reason for each."""

    models: tuple[int, ...]
    reasons: tuple[str, ...]
    suspicious: tuple[str | None, ...]  # per phase: why its calibration data looks wrong
    bound: FloorBound | None = None  # floor mode: the loss bound the plan was chosen under

    def per_item(self, phase_of: IntArray) -> IntArray:
        return np.asarray(self.models, dtype=np.int64)[phase_of]


def phase_comparisons(
    data: BenchData, calibration: IntArray, margin: float, alpha: float, seed: int
) -> list[list[NonInferiority | None]]:
    """Per phase, each cheaper candidate against the reference on the phase's calibration
    items (None when the phase has none)."""
    ref = data.reference
    phase = data.phase_of[calibration]
    out: list[list[NonInferiority | None]] = []
    for p in range(len(data.phases)):
        rows = calibration[phase == p]
        if rows.size == 0:
            out.append([None] * ref)
            continue
        reference = data.scores[rows, ref]
        out.append(
            [
                compare_paired(
                    reference, data.scores[rows, c], margin=margin, alpha=alpha, seed=seed
                )
                for c in range(ref)
            ]
        )
    return out


def suspicion(row: list[NonInferiority | None], names: tuple[str, ...]) -> str | None:
    for c, result in enumerate(row):
        if result is not None and result.suspicious is not None:
            return f"{names[c]}: {result.suspicious}"
    return None
