"""Pricing (the `genai-prices` catalogue plus policy overrides) and cost projection."""

from __future__ import annotations

from phaseroute.costs._levers import (
    CACHE_WRITES_PER_DAY,
    LEVERS,
    LeverCosts,
    LeverProjection,
    PhaseLevers,
    WorkflowLevers,
    project_levers,
)
from phaseroute.costs._plot import PlotFiles, plot_sensitivity
from phaseroute.costs._pricing import (
    DEFAULT_BATCH_DISCOUNT,
    CustomPrice,
    PriceBook,
    PricedModel,
    ref_candidates,
)
from phaseroute.costs._projection import (
    DAYS_PER_MONTH,
    CostProjection,
    PhaseCost,
    Scenario,
    ScenarioCosts,
    UncostedPhase,
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
    "CACHE_WRITES_PER_DAY",
    "DAYS_PER_MONTH",
    "DEFAULT_BATCH_DISCOUNT",
    "LEVERS",
    "CostProjection",
    "CustomPrice",
    "LeverCosts",
    "LeverProjection",
    "NoSensitivity",
    "PhaseCost",
    "PhaseLevers",
    "PlotFiles",
    "PriceBook",
    "PricedModel",
    "Scenario",
    "ScenarioCosts",
    "Sensitivity",
    "SensitivityTerm",
    "UncostedPhase",
    "WorkflowCost",
    "WorkflowLevers",
    "plot_sensitivity",
    "project_costs",
    "project_levers",
    "ref_candidates",
    "sensitivity",
]
