"""Per-item strategies: certified per-item routing and a RouteLLM-style baseline.

Both use the product's procedure (`phaseroute.routing.fit_and_certify`, which `measure` runs
too): each phase's calibration items are shuffled (seeded) and `FIT_SHARE` of them fit the
predictors (logistic models, each phase's shrunk loss and the predictor's weight), the rest
certify. *Certified, per phase* fits and certifies every phase on its own items (what a
policy's ``route.per_item`` measures): P(the phase's relative quality loss > ε) ≤ δ.
*Certified, workflow* fits one predictor per phase with shared logistic models and certifies
one threshold on the pooled certification items: P(the workflow's relative quality loss > ε)
≤ δ — the quantity the benchmark's floor is judged on, and what ``per_item: {certify:
workflow}`` measures when every phase opts in. The *RouteLLM-style* baseline takes the
workflow predictors and sets the threshold where the observed loss on the certification
items just reaches ε (a share of top-tier calls that looked enough), with no guarantee.
*Certified, workflow, next m calls* certifies the same predictors for the realised loss of
the holdout itself (m = its size, `routing.Window`): P(the holdout's relative quality loss >
ε) ≤ δ — what the benchmark's floor judges — at the price of a more conservative threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phaseroute.bench._data import BenchData, IntArray
from phaseroute.routing import (
    FeatureMatrix,
    HashingSpec,
    certify,
    feature_matrix,
    fit_and_certify,
    fit_window,
    plug_in_threshold,
    predict_many,
    route,
)


@dataclass(frozen=True, eq=False)
class PerItemRouting:
    """Per holdout item the model index of each strategy, and per group the certificates."""

    certified: IntArray
    baseline: IntArray
    windowed: IntArray  # pooled only: certified for the realised loss of the holdout
    refused: tuple[str | None, ...]  # per group: why nothing was certified
    thresholds: tuple[float, ...]  # per group (2.0: everything on the top tier)


def featurize_bench(prompts: tuple[str, ...]) -> FeatureMatrix:
    return feature_matrix(prompts, HashingSpec())


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
    """Fit, certify and route (module docstring); ``pooled``: one threshold for the whole
    workflow, certified on the pooled certification items."""
    ref = data.reference
    candidates = list(range(ref))  # cheaper than the reference, cost order
    certified = np.full(holdout.size, ref, dtype=np.int64)
    baseline = np.full(holdout.size, ref, dtype=np.int64)
    windowed = np.full(holdout.size, ref, dtype=np.int64)
    if ref == 0:
        return PerItemRouting(certified, baseline, windowed, ("the reference is cheapest",), (2.0,))
    units = [np.arange(len(data.phases))] if pooled else [[p] for p in range(len(data.phases))]
    refused: list[str | None] = []
    thresholds: list[float] = []
    for phases in units:
        rows = calibration[np.isin(data.phase_of[calibration], phases)]
        where = np.flatnonzero(np.isin(data.phase_of[holdout], phases))
        if rows.size < 4:
            refused.append("too few calibration items")
            thresholds.append(2.0)
            continue
        fitted = fit_and_certify(
            features.rows(rows),
            data.scores[rows],
            data.phase_of[rows] if pooled else None,
            reference=ref,
            candidates=candidates,
            names=data.names,
            max_loss=max_loss,
            delta=delta,
            seed=seed,
        )
        predictors, cert = fitted.predictors, fitted.certificate
        held_groups = data.phase_of[holdout[where]] if pooled else None
        refused.append(cert.refused)
        thresholds.append(cert.threshold)
        held = predict_many(predictors, features.rows(holdout[where]), held_groups)
        choice = route(held, cert.threshold)
        certified[where] = np.where(choice >= 0, choice, ref)
        if pooled:
            cut = plug_in_threshold(
                fitted.probabilities, fitted.cheap, fitted.top, max_loss=max_loss
            )
            choice = route(held, cut)
            baseline[where] = np.where(choice >= 0, choice, ref)
            window = fit_window(
                where.size,
                predictors,
                features.rows(rows),
                data.scores[rows],
                data.phase_of[rows],
                fitted.fit_rows,
                reference=ref,
                candidates=candidates,
                max_loss=max_loss,
            )
            batch = certify(
                fitted.probabilities,
                fitted.cheap,
                fitted.top,
                max_loss=max_loss,
                delta=delta,
                seed=seed,
                window=window,
            )
            choice = route(held, batch.threshold)
            windowed[where] = np.where(choice >= 0, choice, ref)
    return PerItemRouting(certified, baseline, windowed, tuple(refused), tuple(thresholds))


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
