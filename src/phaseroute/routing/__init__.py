"""Certified per-item routing inside a phase: a small predictor scores each call, and a
threshold certified by Learn-then-Test bounds the phase's quality loss with probability
1 − δ. See docs/measurement.md for the method, its assumptions and its limits."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from phaseroute.routing._features import SHAPE_FEATURES, HashingSpec, words
from phaseroute.routing._predictor import CandidateModel, ItemPredictor

if TYPE_CHECKING:
    from phaseroute.routing._calibrate import Calibration, fit_and_certify, fit_window
    from phaseroute.routing._certify import (
        GRID,
        KEEP,
        Certificate,
        Window,
        betting_p_values,
        certify,
        items_needed,
        plug_in_threshold,
        route,
        window_from_fit,
    )
    from phaseroute.routing._fit import (
        FIT_SHARE,
        FeatureMatrix,
        feature_matrix,
        fit_predictor,
        fit_predictors,
        split_fit_certify,
    )
    from phaseroute.routing._fit import priorities as predict_many

# Fitting and certifying need numpy, scipy and scikit-learn; scoring a call (the predictor,
# which every policy load touches) needs none of them. Those names load on first use.
_LAZY = {
    **dict.fromkeys(
        ("GRID", "KEEP", "Certificate", "betting_p_values", "certify", "items_needed",
         "plug_in_threshold", "route", "Window", "window_from_fit"),
        ("phaseroute.routing._certify", None),
    ),
    **dict.fromkeys(
        ("FIT_SHARE", "FeatureMatrix", "feature_matrix", "fit_predictor", "fit_predictors",
         "split_fit_certify"),
        ("phaseroute.routing._fit", None),
    ),
    "predict_many": ("phaseroute.routing._fit", "priorities"),
    **dict.fromkeys(
        ("Calibration", "fit_and_certify", "fit_window"), ("phaseroute.routing._calibrate", None)
    ),
}  # fmt: skip


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr or name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FIT_SHARE",
    "GRID",
    "KEEP",
    "SHAPE_FEATURES",
    "Calibration",
    "CandidateModel",
    "Certificate",
    "FeatureMatrix",
    "HashingSpec",
    "ItemPredictor",
    "Window",
    "betting_p_values",
    "certify",
    "feature_matrix",
    "fit_and_certify",
    "fit_predictor",
    "fit_predictors",
    "fit_window",
    "items_needed",
    "plug_in_threshold",
    "predict_many",
    "route",
    "split_fit_certify",
    "window_from_fit",
    "words",
]
