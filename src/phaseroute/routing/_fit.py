"""Fit an `ItemPredictor` on calibration items with scikit-learn's logistic regression.

The regularisation is scikit-learn's default (C = 1, L2), tuned to no benchmark; a model
that did as well as the top tier on every fit item, or on all but one, or on none, gets a
constant predictor at that share, smoothed by one pseudo-item each way. scikit-learn is
imported only here, when fitting: the router scores with `ItemPredictor` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from phaseroute.routing._features import SHAPE_FEATURES, HashingSpec, featurize, words
from phaseroute.routing._predictor import CandidateModel, ItemPredictor

FloatArray = NDArray[np.float64]
REGULARISATION = 1.0  # scikit-learn's default C; not tuned to any benchmark


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
        sizes.append(len(words(text)) + 1.0)
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


def fit_predictor(
    features: FeatureMatrix,
    scores: FloatArray,
    reference: int,
    candidates: Sequence[int],
    names: Sequence[str],
    spec: HashingSpec,
) -> ItemPredictor:
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
    unscaled = ItemPredictor(spec=spec, candidates=tuple(fitted), fit_items=n)
    p = _probabilities(unscaled, features)
    scales = np.median((1.0 - p) / features.sizes[:, None], axis=0) if n else np.ones(len(fitted))
    return ItemPredictor(
        spec=spec,
        candidates=tuple(
            replace(c, scale=float(max(scales[j], 1e-12))) for j, c in enumerate(fitted)
        ),
        fit_items=n,
    )


def priorities(predictor: ItemPredictor, features: FeatureMatrix) -> FloatArray:
    """`ItemPredictor.score` for many featurised texts at once (items × candidates)."""
    p = _probabilities(predictor, features)
    scale = np.array([c.scale for c in predictor.candidates])
    out: FloatArray = 1.0 / (1.0 + (1.0 - p) / (features.sizes[:, None] * scale))
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
