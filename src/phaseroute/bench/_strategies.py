"""The routing strategies the benchmark compares; each picks a model per phase or per item.

Phase strategies decide on calibration items only. Model indices follow `BenchData.models`
(cost order, cheapest first), so "cheaper than the reference" means a lower index.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from phaseroute.bench._data import BenchData, FloatArray, IntArray
from phaseroute.bench._routing import PhaseRouting, phase_comparisons, suspicion
from phaseroute.measure import choose_cheapest
from phaseroute.policy import DEEP_KINDS, Kind


def route_by_margin(
    data: BenchData, calibration: IntArray, *, margin: float, alpha: float, seed: int
) -> PhaseRouting:
    """Per phase, the cheapest model shown non-inferior to the reference within ``margin``
    (fixed-sequence testing from the dearest candidate down; suspicious phases stay)."""
    names = data.names
    ref = data.reference
    models: list[int] = []
    reasons: list[str] = []
    suspicious: list[str | None] = []
    for row in phase_comparisons(data, calibration, margin, alpha, seed):
        suspicious.append(suspicion(row, names))
        if not row or row[0] is None:
            models.append(ref)
            reasons.append(
                "no calibration items: stays on the reference" if row else "is the cheapest"
            )
            continue
        candidates = [(names[c], r) for c, r in enumerate(row) if r is not None]
        choice = choose_cheapest(candidates)
        if choice.chosen is None:
            models.append(ref)
            reasons.append(choice.explanation)
        else:
            c = names.index(choice.chosen)
            models.append(c)
            verdict = row[c]
            reasons.append(verdict.explanation if verdict is not None else choice.explanation)
    return PhaseRouting(tuple(models), tuple(reasons), tuple(suspicious))


def route_by_kinds(data: BenchData, kinds: Mapping[str, Kind]) -> PhaseRouting:
    """The intuition baseline: deep kinds on the reference, the rest on the cheapest model;
    a phase the mapping does not name stays on the reference."""
    models: list[int] = []
    reasons: list[str] = []
    for name in data.phases:
        kind = kinds.get(name)
        if kind is None:
            models.append(data.reference)
            reasons.append("not in the kinds mapping: stays on the reference")
        elif kind in DEEP_KINDS:
            models.append(data.reference)
            reasons.append(f"kind {kind.value} needs depth")
        else:
            models.append(data.cheapest)
            reasons.append(f"kind {kind.value} goes cheap")
    return PhaseRouting(tuple(models), tuple(reasons), (None,) * len(data.phases))


def route_randomly(like: IntArray, seed: int) -> IntArray:
    """Per item, a random model with exactly the same mix of models as ``like`` (seeded)."""
    rng = np.random.default_rng([seed, 0x5EED])
    shuffled: IntArray = rng.permutation(like)
    return shuffled


def route_oracle(scores: FloatArray, costs: FloatArray, reference: int) -> IntArray:
    """Per item, the cheapest model scoring at least the reference's score on that item."""
    good = scores >= scores[:, [reference]]
    masked = np.where(good, costs, np.inf)
    chosen: IntArray = np.argmin(masked, axis=1).astype(np.int64)
    return chosen
