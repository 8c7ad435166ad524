"""Pricing (the `genai-prices` catalogue plus policy overrides) and cost projection."""

from __future__ import annotations

from phaseroute.costs._plot import PlotFiles, plot_sensitivity
from phaseroute.costs._pricing import CustomPrice, PriceBook, PricedModel, ref_candidates
from phaseroute.costs._projection import (
    DAYS_PER_MONTH,
    CostProjection,
    PhaseCost,
    Scenario,
    ScenarioCosts,
    UncostedPhase,
    Unpriced,
    WorkflowCost,
    project_costs,
)
from phaseroute.costs._sensitivity import (
    NoSensitivity,
    Sensitivity,
    SensitivityTerm,
    sensitivity,
)

__all__ = [
    "DAYS_PER_MONTH",
    "CostProjection",
    "CustomPrice",
    "NoSensitivity",
    "PhaseCost",
    "PlotFiles",
    "PriceBook",
    "PricedModel",
    "Scenario",
    "ScenarioCosts",
    "Sensitivity",
    "SensitivityTerm",
    "UncostedPhase",
    "Unpriced",
    "WorkflowCost",
    "plot_sensitivity",
    "project_costs",
    "ref_candidates",
    "sensitivity",
]
