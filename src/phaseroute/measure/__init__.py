"""Measurement: datasets, scorers, statistics, the harness, the response cache and reports."""

from __future__ import annotations

from phaseroute.measure._cache import CachedCaller, ResponseCache, cache_key, cache_location
from phaseroute.measure._dataset import LabelledDataset, LabelledItem, read_labelled
from phaseroute.measure._harness import (
    MeasurementRun,
    MeasureSettings,
    PairedScores,
    PhaseResult,
    PhaseTask,
    Progress,
    SilentProgress,
    measure_phase,
    merge_lock,
    metric_interval,
    run_measurement,
)
from phaseroute.measure._live import BatchRouterCaller, LiveSource, RouterCaller
from phaseroute.measure._replay import ReplayPhase, phase_name, read_mapping, replay_policy_yaml
from phaseroute.measure._report import html_report, markdown_report, write_reports
from phaseroute.measure._scorers import ModelCaller, Score, Scorer, build_scorer
from phaseroute.measure._stats import (
    Decision,
    GapEstimate,
    NonInferiority,
    SequentialComparison,
    TierChoice,
    choose_cheapest,
    compare_paired,
)
from phaseroute.measure._tasks import live_tasks, replay_tasks, select_phases

__all__ = [
    "BatchRouterCaller",
    "CachedCaller",
    "Decision",
    "GapEstimate",
    "LabelledDataset",
    "LabelledItem",
    "LiveSource",
    "MeasureSettings",
    "MeasurementRun",
    "ModelCaller",
    "NonInferiority",
    "PairedScores",
    "PhaseResult",
    "PhaseTask",
    "Progress",
    "ReplayPhase",
    "ResponseCache",
    "RouterCaller",
    "Score",
    "Scorer",
    "SequentialComparison",
    "SilentProgress",
    "TierChoice",
    "build_scorer",
    "cache_key",
    "cache_location",
    "choose_cheapest",
    "compare_paired",
    "html_report",
    "live_tasks",
    "markdown_report",
    "measure_phase",
    "merge_lock",
    "metric_interval",
    "phase_name",
    "read_labelled",
    "read_mapping",
    "replay_policy_yaml",
    "replay_tasks",
    "run_measurement",
    "select_phases",
    "write_reports",
]
