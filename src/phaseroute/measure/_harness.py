"""The harness: for each phase, is a cheaper model good enough? Paired, sequential, honest.

Per phase, the reference is the top tier's primary model; the candidates are the models of
the lower tiers, cheapest tier first. Items are fed in a seeded random order, in batches, to a
sequential non-inferiority test of (reference − candidate) against the phase's margin; a
comparison stops as soon as its decision is clear. The cheapest candidate shown non-inferior
under fixed-sequence testing wins. A candidate that beats the reference by far more than
chance allows flags the phase *suspicious* — usually a scoring defect — and the phase stays
on the top tier. When no candidate is shown non-inferior the phase stays on the top tier
too, and the lock says how many more items would have been needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import stats as sps

from phaseroute.measure._stats import NonInferiority, SequentialComparison, choose_cheapest
from phaseroute.policy._compiler import policy_hash
from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._lock import (
    Comparison,
    DatasetRef,
    Interval,
    LockFile,
    ModelMetric,
    Outcome,
    PhaseLock,
    compared_models,
    describe,
    measurement_hash,
    read_lock,
)
from phaseroute.policy._plan import RoutingPlan


@dataclass(frozen=True)
class MeasureSettings:
    """How to measure: error rate, item order, batch size, answer length for live calls."""

    alpha: float = 0.05
    seed: int = 0
    batch_size: int = 20
    max_tokens: int = 1024


class PairedScores(Protocol):
    """Per-item 0..1 scores of any compared model on one phase's items (by index)."""

    @property
    def size(self) -> int: ...

    @property
    def binary(self) -> bool: ...

    def scores(self, model: str, indices: Sequence[int]) -> list[float]: ...


class Progress(Protocol):
    """Where the harness reports how far it got (the CLI draws Rich progress bars)."""

    def start(self, label: str, total: int) -> None: ...

    def advance(self, steps: int) -> None: ...

    def finish(self) -> None: ...


class SilentProgress:
    """A `Progress` that reports nothing."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, steps: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True)
class PhaseTask:
    """One phase to measure: where its paired scores come from and what the data is."""

    workflow: str
    phase: str
    source: PairedScores
    dataset: DatasetRef


@dataclass(frozen=True)
class PhaseResult:
    """One measured phase: its lock entry and how many items it consumed."""

    workflow: str
    phase: str
    entry: PhaseLock
    items_used: int
    items_available: int


@dataclass(frozen=True)
class MeasurementRun:
    """Every measured phase of one run, and the phases that could not be measured."""

    policy_sha256: str
    results: tuple[PhaseResult, ...]
    skipped: tuple[tuple[str, str, str], ...] = field(default=())  # (workflow, phase, why)


def metric_interval(values: Sequence[float], alpha: float, binary: bool) -> Interval:
    """A model's mean score with a two-sided 1−alpha interval (Wilson for 0/1, else t)."""
    n = len(values)
    if n == 0:
        return Interval(estimate=math.nan, lower=math.nan, upper=math.nan)
    mean = float(np.mean(values))
    if binary:
        ci = sps.binomtest(round(sum(values)), n).proportion_ci(1 - alpha, method="wilson")
        return Interval(estimate=mean, lower=float(ci.low), upper=float(ci.high))
    if n == 1:
        return Interval(estimate=mean, lower=0.0, upper=1.0)
    half = float(sps.t.ppf(1 - alpha / 2, n - 1)) * float(np.std(values, ddof=1)) / math.sqrt(n)
    return Interval(estimate=mean, lower=max(0.0, mean - half), upper=min(1.0, mean + half))


RECORDED_METRIC = "recorded score"
MIN_ITEMS = 20  # no decision before this many items, unless the dataset is smaller


def item_order(size: int, seed: int) -> list[int]:
    """The seeded random order in which items are fed to the sequential test."""
    return [int(i) for i in np.random.default_rng(seed).permutation(size)]


def _compare(
    source: PairedScores,
    reference: str,
    candidate: str,
    order: Sequence[int],
    margin: float,
    settings: MeasureSettings,
    on_batch: Callable[[int], None],
) -> tuple[NonInferiority, list[float], list[float]]:
    # max_items lets the test stop early as "inconclusive" when even every item would
    # likely not settle it (that stop only ever keeps the top tier).
    seq = SequentialComparison(
        margin=margin,
        alpha=settings.alpha,
        min_items=min(MIN_ITEMS, len(order)),
        max_items=len(order),
    )
    ref_all: list[float] = []
    cand_all: list[float] = []
    for start in range(0, len(order), settings.batch_size):
        batch = order[start : start + settings.batch_size]
        ref = source.scores(reference, batch)
        cand = source.scores(candidate, batch)
        seq.extend(ref, cand)
        ref_all += ref
        cand_all += cand
        on_batch(len(batch))
        if seq.decided:
            break
    return seq.result(), ref_all, cand_all


def _comparison(
    result: NonInferiority,
    plan: RoutingPlan,
    reference: str,
    candidate: str,
    ref_scores: Sequence[float],
    cand_scores: Sequence[float],
    settings: MeasureSettings,
    binary: bool,
) -> Comparison:
    def metric(name: str, scores: Sequence[float]) -> ModelMetric:
        m = plan.models[name]
        value = metric_interval(scores, settings.alpha, binary)
        return ModelMetric(model=name, model_id=m.model_id, tier=m.tier, value=value)

    est = result.estimate
    return Comparison(
        candidate=metric(candidate, cand_scores),
        reference=metric(reference, ref_scores),
        n=est.n,
        gap=Interval(estimate=est.gap, lower=est.lower, upper=est.upper),
        method=est.method,
        decision=result.decision,
        stopped_early=result.stopped_early,
        items_needed=result.items_needed,
        suspicious=result.suspicious,
        explanation=result.explanation,
    )


def measure_phase(
    task: PhaseTask,
    plan: RoutingPlan,
    loaded: LoadedPolicy,
    settings: MeasureSettings,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> PhaseResult:
    """Measure one phase and choose its model with family-wise error control.

    Candidates are listed cheapest tier first; they are *measured* from the most expensive
    down and the sequence stops at the first that is not shown non-inferior, because under
    fixed-sequence testing (`choose_cheapest`) no cheaper one could count after that. The
    cheapest candidate that passed wins; none keeps the top tier.
    """
    progress = progress or SilentProgress()
    policy = loaded.policy
    quality = policy.workflows[task.workflow].phases[task.phase].quality
    reference, candidates = compared_models(policy)
    order = item_order(task.source.size, settings.seed)
    measured: dict[str, tuple[NonInferiority, Comparison]] = {}
    used = 0
    progress.start(f"{task.workflow}/{task.phase}", len(order) * max(1, len(candidates)))
    for name in reversed(candidates):
        result, ref_scores, cand_scores = _compare(
            task.source, reference, name, order, quality.margin, settings, progress.advance
        )
        used = max(used, len(ref_scores))
        comparison = _comparison(
            result, plan, reference, name, ref_scores, cand_scores, settings, task.source.binary
        )
        measured[name] = (result, comparison)
        if not result.routes_cheap:
            break
    progress.finish()
    ordered = [name for name in candidates if name in measured]
    choice = choose_cheapest([(name, measured[name][0]) for name in ordered])
    comparisons = tuple(measured[name][1] for name in ordered)
    outcome: Outcome
    if any(c.suspicious for c in comparisons):
        outcome = "suspicious"
    elif choice.chosen is not None:
        outcome = "non_inferior"
    elif any(c.decision == "inconclusive" for c in comparisons):
        outcome = "inconclusive"
    else:
        outcome = "inferior"
    chosen = choice.chosen if choice.chosen is not None and outcome != "suspicious" else reference
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    draft = PhaseLock(
        # Recorded outcomes carry one score per answer, whatever the policy's metric says:
        # the evidence says so, and the compiler will not read it as recall on positives.
        metric=quality.metric if task.dataset.kind == "labelled" else RECORDED_METRIC,
        margin=quality.margin,
        alpha=settings.alpha,
        seed=settings.seed,
        measured_at=stamp,
        policy_sha256=policy_hash(policy),
        measurement_sha256=measurement_hash(policy, task.workflow, task.phase),
        dataset=task.dataset,
        reference=reference,
        comparisons=comparisons,
        chosen=chosen,
        outcome=outcome,
        summary="",
    )
    entry = draft.model_copy(update={"summary": describe(draft)})
    return PhaseResult(task.workflow, task.phase, entry, used, task.source.size)


def run_measurement(
    tasks: Sequence[PhaseTask],
    plan: RoutingPlan,
    loaded: LoadedPolicy,
    settings: MeasureSettings | None = None,
    progress: Progress | None = None,
    skipped: Sequence[tuple[str, str, str]] = (),
) -> MeasurementRun:
    """Measure every task; see `measure_phase`."""
    settings = settings or MeasureSettings()
    results = tuple(measure_phase(t, plan, loaded, settings, progress) for t in tasks)
    return MeasurementRun(policy_hash(loaded.policy), results, tuple(skipped))


def merge_lock(path: Path, run: MeasurementRun, when: datetime | None = None) -> LockFile:
    """The lock at `path` (if any) with this run's phases replaced; other phases are kept."""
    workflows: dict[str, dict[str, PhaseLock]] = {}
    if path.is_file():
        for wf, name, entry in read_lock(path).phases():
            workflows.setdefault(wf, {})[name] = entry
    for r in run.results:
        workflows.setdefault(r.workflow, {})[r.phase] = r.entry
    return LockFile(
        policy_sha256=run.policy_sha256,
        updated_at=(when or datetime.now(UTC)).isoformat(timespec="seconds"),
        workflows=workflows,
    )
