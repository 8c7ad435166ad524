"""Calibration/holdout splits, stratified per phase and seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaseroute.bench._data import IntArray


@dataclass(frozen=True, eq=False)
class Split:
    """Item indices decided on (calibration) and reported on (holdout) for one seed."""

    seed: int
    calibration: IntArray
    holdout: IntArray


def split_items(phase_of: IntArray, fraction: float, seed: int) -> Split:
    """Put ``round(fraction × n)`` items of every phase into calibration, the rest into holdout.

    Every phase with two or more items keeps at least one item on each side, so every phase
    is both measured and reported; a phase of one item goes to holdout (it stays on the top
    tier, having nothing to measure). The same seed always gives the same split.
    """
    rng = np.random.default_rng(seed)
    calibration: list[IntArray] = []
    holdout: list[IntArray] = []
    for phase in range(int(phase_of.max()) + 1 if phase_of.size else 0):
        members = np.flatnonzero(phase_of == phase)
        if members.size == 0:
            continue
        members = rng.permutation(members)
        k = 0 if members.size < 2 else min(max(round(fraction * members.size), 1), members.size - 1)
        calibration.append(members[:k])
        holdout.append(members[k:])
    empty = np.zeros(0, dtype=np.int64)
    return Split(
        seed=seed,
        calibration=np.sort(np.concatenate(calibration)) if calibration else empty,
        holdout=np.sort(np.concatenate(holdout)) if holdout else empty,
    )
