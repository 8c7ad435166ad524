"""Fit `ItemPredictor`s on fit items: logistic models, each phase's loss, and their weight.

The fit items are halved (seeded, per phase). On the first half, one logistic regression per
cheaper model (scikit-learn, L2, C = 1 — its default, tuned to no benchmark) learns
P(its score ≥ the top tier's | prompt); a model that did as well on every fit item, or on
all but one, or on none, gets a constant predictor at that share, smoothed by one
pseudo-item each way. Each phase's expected loss ĝ (top score − cheaper score, per item) is
measured on all fit items and shrunk towards the mean across phases (`shrink`). The second
half, which the logistic models never saw, says how much an item's predicted miss moves its
loss within its phase: β, the within-phase regression slope of the loss on 1 − p, kept in
[0, 1] (1: a calibrated predictor; 0: a predictor with no within-phase signal adds nothing).
scikit-learn is imported only here, when fitting: the router scores with `ItemPredictor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from phaseroute.routing._features import SHAPE_FEATURES, HashingSpec, featurize, word_count
from phaseroute.routing._predictor import CandidateModel, ItemPredictor
from phaseroute.routing._shrink import shrink

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
REGULARISATION = 1.0  # scikit-learn's default C; not tuned to any benchmark
FIT_SHARE = 0.25  # of a phase's calibration items, the share that fits; the rest certify


@dataclass(frozen=True)
class FeatureMatrix:
    """Hashed word features and standardised shape features of some texts."""

    words: sparse.csr_matrix
    shape: FloatArray  # raw shape features, (n, len(SHAPE_FEATURES))
    sizes: FloatArray  # words + 1 per text

    def rows(self, index: NDArray[np.int64]) -> FeatureMatrix:
        return FeatureMatrix(self.words[index], self.shape[index], self.sizes[index])


def feature_matrix(texts: Sequence[str], spec: HashingSpec) -> FeatureMatrix:
    """Featurise texts once; benchmark splits slice the result."""
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    shapes: list[tuple[float, ...]] = []
    sizes: list[float] = []
    for text in texts:
        counts, figures = featurize(text, spec)
        sizes.append(word_count(text) + 1.0)
        indices.extend(counts)
        values.extend(counts.values())
        indptr.append(len(indices))
        shapes.append(figures)
    matrix = sparse.csr_matrix(
        (np.asarray(values), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(texts), 1 << spec.bits),
    )
    shape_array = np.asarray(shapes, dtype=np.float64).reshape(len(texts), len(SHAPE_FEATURES))
    return FeatureMatrix(matrix, shape_array, np.asarray(sizes, dtype=np.float64))


def split_fit_certify(rows: IntArray, groups: IntArray, seed: int) -> tuple[IntArray, IntArray]:
    """Shuffle ``rows`` (seeded) and give `FIT_SHARE` of every group to fitting (at least one
    item when the group has two or more), the rest to certification."""
    order = np.random.default_rng([seed, 0xF17]).permutation(rows.size)
    rows, groups = rows[order], groups[order]
    fit: list[IntArray] = []
    cert: list[IntArray] = []
    for g in np.unique(groups):
        members = rows[groups == g]
        share = round(FIT_SHARE * members.size)
        k = min(max(share, 1), members.size - 1) if members.size > 1 else 0
        fit.append(members[:k])
        cert.append(members[k:])
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.concatenate(fit) if fit else empty,
        np.concatenate(cert) if cert else empty,
    )


def fit_predictor(
    features: FeatureMatrix,
    scores: FloatArray,
    reference: int,
    candidates: Sequence[int],
    names: Sequence[str],
    spec: HashingSpec,
    *,
    seed: int = 0,
) -> ItemPredictor:
    """`fit_predictors` for the items of one phase."""
    return fit_predictors(features, scores, reference, candidates, names, spec, seed=seed)[0]


def fit_predictors(
    features: FeatureMatrix,
    scores: FloatArray,
    reference: int,
    candidates: Sequence[int],
    names: Sequence[str],
    spec: HashingSpec,
    *,
    groups: IntArray | None = None,
    seed: int = 0,
) -> tuple[ItemPredictor, ...]:
    """One predictor per group (phase) 0..G−1, sharing the logistic models (module
    docstring). ``scores``: 0..1, items × models; ``groups``: per item, None for one phase."""
    n = scores.shape[0]
    group = np.zeros(n, dtype=np.int64) if groups is None else groups
    count = int(group.max()) + 1 if n else 1
    train, weigh = _halves(group, seed)
    models = _logistic(features.rows(train), scores[train], reference, candidates, names)
    base = ItemPredictor(spec=spec, candidates=tuple(models), fit_items=n)
    miss_weigh = 1.0 - _probabilities(base, features.rows(weigh))
    miss_all = 1.0 - _probabilities(base, features)
    per_group: list[list[CandidateModel]] = [[] for _ in range(count)]
    for j, c in enumerate(candidates):
        loss = _shrunk_means(scores[:, reference] - scores[:, c], group, count)
        miss = _group_means(miss_weigh[:, j], group[weigh], count)
        centred = miss_weigh[:, j] - miss[group[weigh]]
        spread = float(np.dot(centred, centred))
        lost = scores[weigh, reference] - scores[weigh, c]
        slope = float(np.dot(centred, lost)) / spread if spread > 1e-12 else 0.0
        weight = min(max(slope, 0.0), 1.0)
        key = (loss[group] + weight * (miss_all[:, j] - miss[group])) / features.sizes
        scale = float(np.median(np.abs(key))) if n else 1.0
        for g in range(count):
            per_group[g].append(
                replace(
                    models[j],
                    loss=float(loss[g]),
                    miss=float(miss[g]),
                    weight=weight,
                    scale=max(scale, 1e-12),
                )
            )
    return tuple(ItemPredictor(spec=spec, candidates=tuple(m), fit_items=n) for m in per_group)


def _halves(group: IntArray, seed: int) -> tuple[IntArray, IntArray]:
    """Item indices split in two per group (seeded): the first half trains, the second weighs."""
    order = np.random.default_rng([seed, 0xB7A]).permutation(group.size)
    first: list[IntArray] = []
    second: list[IntArray] = []
    for g in np.unique(group):
        members = order[group[order] == g]
        half = (members.size + 1) // 2
        first.append(members[:half])
        second.append(members[half:])
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.sort(np.concatenate(first)) if first else empty,
        np.sort(np.concatenate(second)) if second else empty,
    )


def _group_means(values: FloatArray, group: IntArray, count: int) -> FloatArray:
    """Per group the mean of ``values``; a group without items gets the overall mean."""
    n = np.bincount(group, minlength=count).astype(np.float64)
    total = np.bincount(group, weights=values, minlength=count)
    overall = float(values.mean()) if values.size else 0.0
    out: FloatArray = np.where(n > 0, total / np.maximum(n, 1.0), overall)
    return out


def _shrunk_means(lost: FloatArray, group: IntArray, count: int) -> FloatArray:
    """Per group the mean loss, shrunk towards the mean across groups (`shrink`); the item
    variance has a prior of one pseudo-item at 1/4, so a group of identical items is not
    taken as exact. A group without items gets the common mean."""
    n = np.bincount(group, minlength=count).astype(np.float64)
    mean = np.bincount(group, weights=lost, minlength=count) / np.maximum(n, 1.0)
    square = np.bincount(group, weights=lost * lost, minlength=count)
    item_variance = (np.maximum(square - n * mean * mean, 0.0) + 0.25) / np.maximum(n, 1.0)
    usable = n >= 2
    variance = np.where(n > 0, item_variance / np.maximum(n, 1.0), np.inf)
    shrunk, _, _, _ = shrink(mean, variance, usable)
    if np.any(n == 0):
        weights = np.where(n > 0, 1.0 / variance, 0.0)
        common = float(np.dot(weights, mean) / weights.sum()) if weights.sum() > 0 else 0.0
        shrunk = np.where(n > 0, shrunk, common)
    return shrunk


def _logistic(
    features: FeatureMatrix,
    scores: FloatArray,
    reference: int,
    candidates: Sequence[int],
    names: Sequence[str],
) -> list[CandidateModel]:
    """One logistic model per candidate column of ``scores`` (0..1, items × models):
    target = the candidate scored at least the reference's score on the item."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    n = scores.shape[0]
    mean = features.shape.mean(axis=0) if n else np.zeros(len(SHAPE_FEATURES))
    sd = features.shape.std(axis=0) if n else np.ones(len(SHAPE_FEATURES))
    sd = np.where(sd > 1e-12, sd, 1.0)
    # only the buckets these items use: liblinear's cost grows with the column count
    columns = np.unique(features.words.indices)
    design = sparse.hstack(
        [features.words[:, columns], sparse.csr_matrix((features.shape - mean) / sd)],
        format="csr",
    )
    width = columns.size
    fitted: list[CandidateModel] = []
    for c in candidates:
        target = (scores[:, c] >= scores[:, reference] - 1e-9).astype(np.int64)
        positives = int(target.sum())
        share = (positives + 1.0) / (n + 2.0)
        if min(positives, n - positives) < 2:
            fitted.append(
                CandidateModel(
                    model=names[c],
                    intercept=float(np.log(share / (1.0 - share))),
                    shape=(0.0,) * len(SHAPE_FEATURES),
                    weights={},
                    positives=share,
                )
            )
            continue
        model = LogisticRegression(C=REGULARISATION, max_iter=2000, solver="liblinear")
        model.fit(design, target)
        coef = model.coef_[0]
        word_coef, shape_coef = coef[:width], coef[width:] / sd
        intercept = float(model.intercept_[0] - np.dot(shape_coef, mean))
        nonzero = np.flatnonzero(word_coef)
        fitted.append(
            CandidateModel(
                model=names[c],
                intercept=intercept,
                shape=tuple(float(x) for x in shape_coef),
                weights={int(columns[b]): float(word_coef[b]) for b in nonzero},
                positives=share,
            )
        )
    return fitted


def priorities(
    predictor: ItemPredictor | Sequence[ItemPredictor],
    features: FeatureMatrix,
    groups: IntArray | None = None,
) -> FloatArray:
    """`ItemPredictor.score` for many featurised texts at once (items × candidates); with
    one predictor per group (from `fit_predictors`), ``groups`` names each text's."""
    from scipy.special import expit  # noqa: PLC0415

    fitted = (predictor,) if isinstance(predictor, ItemPredictor) else tuple(predictor)
    group = np.zeros(features.sizes.size, dtype=np.int64) if groups is None else groups
    miss = 1.0 - _probabilities(fitted[0], features)
    loss = np.array([[c.loss for c in p.candidates] for p in fitted])[group]
    mean_miss = np.array([[c.miss for c in p.candidates] for p in fitted])[group]
    weight = np.array([c.weight for c in fitted[0].candidates])
    scale = np.array([c.scale for c in fitted[0].candidates])
    key = (loss + weight * (miss - mean_miss)) / (features.sizes[:, None] * scale)
    out: FloatArray = expit(-key)
    return out


def _probabilities(predictor: ItemPredictor, features: FeatureMatrix) -> FloatArray:
    n = features.shape.shape[0]
    out = np.empty((n, len(predictor.candidates)))
    for j, c in enumerate(predictor.candidates):
        if c.weights:
            buckets = np.fromiter(c.weights.keys(), dtype=np.int64, count=len(c.weights))
            values = np.fromiter(c.weights.values(), dtype=np.float64, count=len(c.weights))
            dense = np.zeros(features.words.shape[1])
            dense[buckets] = values
            words = features.words @ dense
        else:
            words = np.zeros(n)
        z = c.intercept + words + features.shape @ np.asarray(c.shape)
        out[:, j] = 1.0 / (1.0 + np.exp(-z))
    return out
