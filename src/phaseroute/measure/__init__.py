"""Measurement: decide each phase's route from evidence (DESIGN §4)."""

from phaseroute.measure._stats import (
    Decision,
    GapEstimate,
    NonInferiority,
    SequentialComparison,
    TierChoice,
    choose_cheapest,
    compare_paired,
)

__all__ = [
    "Decision",
    "GapEstimate",
    "NonInferiority",
    "SequentialComparison",
    "TierChoice",
    "choose_cheapest",
    "compare_paired",
]
