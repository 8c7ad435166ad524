"""Per-item strategies: certified per-item routing and a RouteLLM-style baseline.

Both use, per phase, the same predictor, fit on one half of the phase's calibration items
(seeded). *Certified* chooses each phase's threshold on the other half by Learn-then-Test
(`phaseroute.routing.certify`): P(the phase's relative quality loss > ε) ≤ δ. The
*RouteLLM-style* baseline sets one threshold across all phases so that the same share of
calls as the certified strategy stays on the top tier (a cost target), with no guarantee.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from phaseroute.bench._data import BenchData, FloatArray, IntArray
from phaseroute.routing import (
    FeatureMatrix,
    HashingSpec,
    certify,
    feature_matrix,
    fit_predictor,
    plug_in_threshold,
    predict_many,
    route,
)


@dataclass(frozen=True, eq=False)
class PerItemRouting:
    """Per holdout item the model index of each strategy, and per phase the certificates."""

    certified: IntArray
    baseline: IntArray
    refused: tuple[str | None, ...]  # per phase: why nothing was certified
    thresholds: tuple[float, ...]  # per phase (2.0: everything on the top tier)


def featurize_bench(prompts: tuple[str, ...]) -> FeatureMatrix:
    return feature_matrix(prompts, HashingSpec())


def with_phase(features: FeatureMatrix, data: BenchData) -> FeatureMatrix:
    """The features plus one hashed bucket naming the item's phase (for a pooled predictor)."""
    mask = HashingSpec().mask
    buckets = np.array(
        [zlib.crc32(b"\x00phase:" + name.encode()) & mask for name in data.phases],
        dtype=np.int64,
    )[data.phase_of]
    n = data.phase_of.size
    marker = sparse.csr_matrix((np.ones(n), buckets, np.arange(n + 1)), shape=features.words.shape)
    return FeatureMatrix((features.words + marker).tocsr(), features.shape, features.sizes)


def route_per_item(
    data: BenchData,
    features: FeatureMatrix,
    calibration: IntArray,
    holdout: IntArray,
    *,
    max_loss: float,
    delta: float,
    seed: int,
    pooled: bool = False,
) -> PerItemRouting:
    """Fit, certify and route every phase (module docstring); ``pooled``: one predictor
    (with the phase as a feature) and one threshold for all phases together, certified on
    their pooled items — a workflow-level guarantee."""
    ref = data.reference
    candidates = list(range(ref))  # cheaper than the reference, cost order
    rng = np.random.default_rng([seed, 0x17E4])
    cal_phase = np.zeros(calibration.size, dtype=np.int64) if pooled else data.phase_of[calibration]
    hold_phase = np.zeros(holdout.size, dtype=np.int64) if pooled else data.phase_of[holdout]
    groups = 1 if pooled else len(data.phases)
    certified = np.full(holdout.size, ref, dtype=np.int64)
    hold_probs = np.zeros((holdout.size, len(candidates)))
    cert_probs: list[FloatArray] = []
    cert_scores: list[FloatArray] = []
    cert_tops: list[FloatArray] = []
    refused: list[str | None] = []
    thresholds: list[float] = []
    for p in range(groups):
        rows = rng.permutation(calibration[cal_phase == p])
        where = np.flatnonzero(hold_phase == p)
        if ref == 0 or rows.size < 4:
            refused.append("too few calibration items" if ref else "the reference is cheapest")
            thresholds.append(2.0)
            continue
        fit_rows, cert_rows = _halves(rows, data.phase_of)
        predictor = fit_predictor(
            features.rows(fit_rows),
            data.scores[fit_rows],
            ref,
            candidates,
            data.names,
            HashingSpec(),
        )
        probs = predict_many(predictor, features.rows(cert_rows))
        top = data.scores[cert_rows, ref]
        cert = certify(
            probs,
            data.scores[cert_rows][:, candidates],
            top,
            max_loss=max_loss,
            delta=delta,
            seed=seed,
        )
        refused.append(cert.refused)
        thresholds.append(cert.threshold)
        held_probs = predict_many(predictor, features.rows(holdout[where]))
        hold_probs[where] = held_probs
        choice = route(held_probs, cert.threshold)
        certified[where] = np.where(choice >= 0, choice, ref)
        cert_probs.append(probs)
        cert_scores.append(data.scores[cert_rows][:, candidates])
        cert_tops.append(top)

    baseline = np.full(holdout.size, ref, dtype=np.int64)
    if cert_probs and candidates:
        cut = plug_in_threshold(
            np.vstack(cert_probs),
            np.vstack(cert_scores),
            np.concatenate(cert_tops),
            max_loss=max_loss,
        )
        choice = route(hold_probs, cut)
        baseline = np.where(choice >= 0, choice, ref)
    return PerItemRouting(certified, baseline, tuple(refused), tuple(thresholds))


def _halves(rows: IntArray, phase_of: IntArray) -> tuple[IntArray, IntArray]:
    """Split shuffled rows in two halves, each phase halved separately (stratified)."""
    first: list[IntArray] = []
    second: list[IntArray] = []
    for p in np.unique(phase_of[rows]):
        members = rows[phase_of[rows] == p]
        half = members.size // 2
        first.append(members[:half])
        second.append(members[half:])
    return np.concatenate(first), np.concatenate(second)


def phase_exceedances(
    data: BenchData, holdout: IntArray, choice: IntArray, max_loss: float
) -> tuple[int, int]:
    """(phases whose realised holdout loss exceeded ε, phases checked) for one split."""
    phase = data.phase_of[holdout]
    routed = data.scores[holdout, choice]
    top = data.scores[holdout, data.reference]
    exceeded = checked = 0
    for p in np.unique(phase):
        m = phase == p
        top_mean = float(top[m].mean())
        if top_mean <= 0:
            continue
        checked += 1
        if 1.0 - float(routed[m].mean()) / top_mean > max_loss + 1e-12:
            exceeded += 1
    return exceeded, checked
