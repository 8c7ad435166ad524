"""Fit and certify in one step: the procedure `phaseroute measure` and the benchmark share.

The items of one phase, or of a pool of phases certified together, are shuffled (seeded);
`FIT_SHARE` of every phase's items fit the predictors (`fit_predictors`: shared logistic
models, each phase's own shrunk loss), and one threshold is certified on all the others
(`certify`). With one phase the guarantee is the phase's; with several it is over the pooled
calls in the proportions of these items:

    P( quality loss over the pool's calls, in this phase mix, > ε ) ≤ δ

or, with a window of m calls, the same for the loss realised over a batch of m future calls
(`routing.Window`; its E[X²] guesses come from the fit items).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from phaseroute.routing._certify import (
    Certificate,
    FloatArray,
    IntArray,
    Window,
    certify,
    route,
    routed_scores,
    window_from_fit,
)
from phaseroute.routing._features import HashingSpec
from phaseroute.routing._fit import FeatureMatrix, fit_predictors, priorities, split_fit_certify
from phaseroute.routing._predictor import ItemPredictor


@dataclass(frozen=True, eq=False)
class Calibration:
    """The predictors (one per group), the certificate, and the certification items' figures.

    Row indices are positions in the items given to `fit_and_certify`."""

    predictors: tuple[ItemPredictor, ...]
    certificate: Certificate
    fit_rows: IntArray
    cert_rows: IntArray
    groups: IntArray  # per certification item, its group
    probabilities: FloatArray  # certification items × candidates (routing priorities)
    cheap: FloatArray  # certification items × candidates: the cheaper models' scores
    top: FloatArray  # certification items: the reference's scores

    def group_figures(self, group: int) -> tuple[int, float, float]:
        """For one group's certification items at the certified threshold: (items, realised
        relative loss, share routed below the top tier) — figures, not a guarantee."""
        mine = self.groups == group
        n = int(mine.sum())
        top = self.top[mine]
        if n == 0 or not self.certificate.certified or float(top.mean()) <= 0:
            return n, 0.0, 0.0
        choice = route(self.probabilities[mine], self.certificate.threshold)
        routed = routed_scores(choice, self.cheap[mine], top)
        return n, 1.0 - float(routed.mean()) / float(top.mean()), float(np.mean(choice >= 0))


def fit_and_certify(
    features: FeatureMatrix,
    scores: FloatArray,
    groups: IntArray | None,
    *,
    reference: int,
    candidates: Sequence[int],
    names: Sequence[str],
    max_loss: float,
    delta: float,
    seed: int,
    spec: HashingSpec | None = None,
    window: int | None = None,
) -> Calibration:
    """Split, fit and certify (module docstring). ``scores``: 0..1, items × models;
    ``groups``: per item its phase 0..G−1, or None for one phase; ``reference``: the
    top-tier column; ``candidates``: the cheaper columns, cheapest first; ``window``: certify
    the realised loss of that many future calls instead of the expected loss."""
    n = scores.shape[0]
    group = np.zeros(n, dtype=np.int64) if groups is None else groups
    fit_rows, cert_rows = split_fit_certify(np.arange(n, dtype=np.int64), group, seed)
    predictors = fit_predictors(
        features.rows(fit_rows),
        scores[fit_rows],
        reference,
        candidates,
        names,
        spec or HashingSpec(),
        groups=None if groups is None else group[fit_rows],
        seed=seed,
    )
    probabilities = priorities(
        predictors, features.rows(cert_rows), None if groups is None else group[cert_rows]
    )
    cheap = scores[cert_rows][:, list(candidates)]
    top = scores[cert_rows, reference]
    batch = None
    if window is not None:
        batch = fit_window(
            window, predictors, features, scores, groups, fit_rows,
            reference=reference, candidates=candidates, max_loss=max_loss,
        )  # fmt: skip
    cert = certify(
        probabilities, cheap, top, max_loss=max_loss, delta=delta, seed=seed, window=batch
    )
    return Calibration(
        predictors=predictors,
        certificate=cert,
        fit_rows=fit_rows,
        cert_rows=cert_rows,
        groups=group[cert_rows],
        probabilities=probabilities,
        cheap=cheap,
        top=top,
    )


def fit_window(
    calls: int,
    predictors: Sequence[ItemPredictor],
    features: FeatureMatrix,
    scores: FloatArray,
    groups: IntArray | None,
    fit_rows: IntArray,
    *,
    reference: int,
    candidates: Sequence[int],
    max_loss: float,
) -> Window:
    """The `Window` of ``calls`` future calls, its E[X²] guessed from the fit items' own
    routing by ``predictors`` (arguments as for `fit_and_certify`)."""
    return window_from_fit(
        calls,
        priorities(
            predictors, features.rows(fit_rows), None if groups is None else groups[fit_rows]
        ),
        scores[fit_rows][:, list(candidates)],
        scores[fit_rows, reference],
        max_loss=max_loss,
    )
