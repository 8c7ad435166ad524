"""Certified per-item routing inside a phase: a small predictor scores each call, and a
threshold certified by Learn-then-Test bounds the phase's quality loss with probability
1 − δ. See docs/measurement.md for the method, its assumptions and its limits."""

from __future__ import annotations

from phaseroute.routing._certify import (
    GRID,
    KEEP,
    Certificate,
    betting_p_values,
    certify,
    items_needed,
    plug_in_threshold,
    route,
)
from phaseroute.routing._features import SHAPE_FEATURES, HashingSpec, words
from phaseroute.routing._fit import FeatureMatrix, feature_matrix, fit_predictor
from phaseroute.routing._fit import priorities as predict_many
from phaseroute.routing._predictor import CandidateModel, ItemPredictor

__all__ = [
    "GRID",
    "KEEP",
    "SHAPE_FEATURES",
    "CandidateModel",
    "Certificate",
    "FeatureMatrix",
    "HashingSpec",
    "ItemPredictor",
    "betting_p_values",
    "certify",
    "feature_matrix",
    "fit_predictor",
    "items_needed",
    "plug_in_threshold",
    "predict_many",
    "route",
    "words",
]
