"""Run every strategy over repeated calibration/holdout splits and summarise on holdout."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from phaseroute.bench._data import BenchData, IntArray
from phaseroute.bench._floor import route_at_floor
from phaseroute.bench._per_item import featurize_bench, phase_exceedances, route_per_item
from phaseroute.bench._routing import PhaseRouting
from phaseroute.bench._split import Split, split_items
from phaseroute.bench._strategies import (
    route_by_kinds,
    route_by_margin,
    route_oracle,
    route_randomly,
)
from phaseroute.errors import Problem, RequestError
from phaseroute.measure import compare_paired
from phaseroute.policy import Kind

UNIFORM_TOP = "uniform_top"
UNIFORM_CHEAPEST = "uniform_cheapest"
MEASURED = "measured"
KINDS = "kinds"
RANDOM = "random"
ORACLE = "oracle"
CERTIFIED = "certified_per_item"
CERTIFIED_WORKFLOW = "certified_per_item_workflow"
CERTIFIED_WINDOW = "certified_per_item_next_calls"
ITEM_BASELINE = "routellm_style"
PER_ITEM = (CERTIFIED, CERTIFIED_WORKFLOW, CERTIFIED_WINDOW, ITEM_BASELINE)


@dataclass(frozen=True)
class BenchSettings:
    """How to split, decide and check. Exactly one of ``floor`` and ``margin`` is set."""

    floor: float | None = 0.95
    margin: float | None = None
    split: float = 0.5
    seed: int = 0
    repeats: int = 5
    alpha: float = 0.05
    kinds: Mapping[str, Kind] | None = None
    kinds_source: str | None = None
    per_item: bool = True  # run the per-item strategies (certified and RouteLLM-style)
    max_loss: float | None = None  # ε of certified routing; default 1 − floor (or the margin)
    delta: float | None = None  # δ of certified routing; default alpha

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if self.max_loss is not None and not 0.0 < self.max_loss < 1.0:
            problems.append(
                Problem(f"--max-loss {self.max_loss:g} must be in (0, 1)", fix="e.g. 0.05")
            )
        if self.delta is not None and not 0.0 < self.delta < 0.5:
            problems.append(Problem(f"--delta {self.delta:g} must be in (0, 0.5)", fix="e.g. 0.05"))
        if (self.floor is None) == (self.margin is None):
            problems.append(Problem("give either --floor or --margin", fix="e.g. --floor 0.95"))
        if self.floor is not None and not 0.0 < self.floor <= 1.0:
            problems.append(
                Problem(f"--floor {self.floor:g} must be in (0, 1]", fix="e.g. 0.95 for 95%")
            )
        if self.margin is not None and not 0.0 <= self.margin < 1.0:
            problems.append(
                Problem(
                    f"--margin {self.margin:g} must be in [0, 1) on the 0..1 scale",
                    fix="e.g. 0.02 for two points",
                )
            )
        if not 0.0 < self.split < 1.0:
            problems.append(Problem(f"--split {self.split:g} must be in (0, 1)", fix="e.g. 0.5"))
        if self.repeats < 1:
            problems.append(Problem(f"--repeats {self.repeats} must be at least 1", fix="e.g. 5"))
        if not 0.0 < self.alpha < 0.5:
            problems.append(Problem(f"--alpha {self.alpha:g} must be in (0, 0.5)", fix="e.g. 0.05"))
        if problems:
            raise RequestError(problems)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.seed, self.seed + self.repeats))

    @property
    def epsilon(self) -> float:
        """ε of certified per-item routing (relative quality loss)."""
        if self.max_loss is not None:
            return self.max_loss
        return 1.0 - self.floor if self.floor is not None else float(self.margin or 0.05)

    @property
    def risk(self) -> float:
        """δ of certified per-item routing."""
        return self.delta if self.delta is not None else self.alpha


@dataclass(frozen=True)
class Outcome:
    """One strategy on one holdout half."""

    seed: int
    score: float  # mean 0..1 score
    ratio: float  # score ÷ the reference's score on the same items (NaN if that is 0)
    cost: float | None  # USD, None when a model it used has no price
    saving: float | None  # 1 − cost ÷ reference cost
    top_share: float  # share of items sent to the reference


def _stat(values: list[float]) -> tuple[float, float, float]:
    arr = np.asarray(values, dtype=np.float64)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), sd, float(arr.min())


@dataclass(frozen=True)
class StrategyResult:
    """A strategy over every repeat: the per-seed outcomes and their spread."""

    key: str
    label: str
    description: str
    outcomes: tuple[Outcome, ...] = ()
    not_run: str | None = None  # why the strategy was not run
    # per-item strategies: (phase × split pairs whose realised holdout loss exceeded ε, pairs)
    exceeded: tuple[int, int] | None = None

    @property
    def ran(self) -> bool:
        return self.not_run is None and bool(self.outcomes)

    def spread(self, attribute: str) -> tuple[float, float, float] | None:
        """(mean, sd, min) of an outcome attribute over seeds; None if any is unknown."""
        values = [getattr(o, attribute) for o in self.outcomes]
        if not values or any(v is None or math.isnan(v) for v in values):
            return None
        return _stat(values)

    def floor_held(self, floor: float) -> int:
        """In how many repeats the holdout ratio reached the floor."""
        return sum(1 for o in self.outcomes if o.ratio >= floor - 1e-12)


@dataclass(frozen=True)
class PhaseReport:
    """One phase: size, mean score per model, suspicion, and where measurement sent it."""

    phase: str
    items: int
    mean_scores: tuple[float, ...]  # per model, in `BenchData.models` order
    suspicious: str | None  # on the whole file
    measured_routes: tuple[int, ...]  # per model: repeats in which the phase went there
    last_reason: str  # the measured strategy's reason in the last repeat


@dataclass(frozen=True, eq=False)
class BenchResult:
    """The whole benchmark: data, settings, strategies and per-phase detail."""

    data: BenchData
    settings: BenchSettings
    strategies: tuple[StrategyResult, ...]
    phases: tuple[PhaseReport, ...]
    notes: tuple[str, ...]
    seconds: float = field(default=0.0)

    def strategy(self, key: str) -> StrategyResult:
        for s in self.strategies:
            if s.key == key:
                return s
        raise KeyError(key)


def _outcome(data: BenchData, split: Split, choice: IntArray) -> Outcome:
    rows = split.holdout
    ref = data.reference
    top_score = float(data.scores[rows, ref].mean())
    score = float(data.scores[rows, choice].mean())
    top_cost = float(data.costs[rows, ref].sum())
    cost = float(data.costs[rows, choice].sum())
    known = math.isfinite(cost) and math.isfinite(top_cost)
    return Outcome(
        seed=split.seed,
        score=score,
        ratio=score / top_score if top_score > 0 else math.nan,
        cost=cost if known else None,
        saving=1.0 - cost / top_cost if known and top_cost > 0 else None,
        top_share=float(np.mean(choice == ref)),
    )


def _measured(data: BenchData, s: BenchSettings, split: Split) -> PhaseRouting:
    if s.floor is not None:
        served = np.bincount(data.phase_of[split.holdout], minlength=len(data.phases))
        return route_at_floor(
            data,
            split.calibration,
            floor=s.floor,
            alpha=s.alpha,
            seed=split.seed,
            served=served.astype(np.int64),
        )
    assert s.margin is not None
    return route_by_margin(data, split.calibration, margin=s.margin, alpha=s.alpha, seed=split.seed)


def _whole_file_suspicion(data: BenchData, alpha: float) -> list[str | None]:
    """Per phase, whether a cheaper model is far ahead of the reference on all its items."""
    out: list[str | None] = []
    for p in range(len(data.phases)):
        rows = np.flatnonzero(data.phase_of == p)
        found = None
        for c in range(data.reference):
            verdict = compare_paired(
                data.scores[rows, data.reference], data.scores[rows, c], margin=0.0, alpha=alpha
            )
            if verdict.suspicious is not None:
                found = f"{data.models[c].name}: {verdict.suspicious}"
                break
        out.append(found)
    return out


def _per_item_plans(settings: BenchSettings, ran: bool) -> tuple[StrategyResult, ...]:
    eps, delta = settings.epsilon, settings.risk
    why = None if ran else "per-item strategies not requested (or no prompts in the file)"
    return (
        StrategyResult(
            CERTIFIED,
            "certified per-item (per phase)",
            f"per phase: predictor fit on a quarter of the calibration items, threshold "
            f"certified on the rest by Learn-then-Test: P(phase loss > {eps:g}) ≤ {delta:g}",
            not_run=why,
        ),
        StrategyResult(
            CERTIFIED_WORKFLOW,
            "certified per-item (workflow)",
            f"per-phase predictors (shared logistic models, each phase's shrunk loss), one "
            f"threshold certified on the pooled calibration items: "
            f"P(workflow loss > {eps:g}) ≤ {delta:g}",
            not_run=why,
        ),
        StrategyResult(
            CERTIFIED_WINDOW,
            "certified per-item (workflow, next m calls)",
            f"the workflow predictors, one threshold certified for the realised loss of the "
            f"m holdout calls: P(holdout loss > {eps:g}) ≤ {delta:g}",
            not_run=why,
        ),
        StrategyResult(
            ITEM_BASELINE,
            "RouteLLM-style threshold",
            "the workflow predictors, one threshold at the share of top-tier calls whose "
            f"observed calibration loss just reaches {eps:g}; no guarantee",
            not_run=why,
        ),
    )


def run_bench(
    data: BenchData,
    settings: BenchSettings,
    progress: Callable[[int, int], None] | None = None,
) -> BenchResult:
    """Split, decide on calibration, report on holdout, for every strategy and seed.

    ``progress(done, total)`` is called after each repeat.
    """
    started = time.perf_counter()
    names = data.names
    ref, cheap = data.reference, data.cheapest
    rule = (
        f"phase routing at {100 * settings.floor:g}% of the top tier's score"
        if settings.floor is not None
        else f"per-phase non-inferiority within {100 * (settings.margin or 0):g} points"
    )
    outcomes: dict[str, list[Outcome]] = {
        k: [] for k in (UNIFORM_TOP, UNIFORM_CHEAPEST, MEASURED, KINDS, RANDOM, ORACLE, *PER_ITEM)
    }
    exceeded = {k: [0, 0] for k in PER_ITEM}
    eps, delta = settings.epsilon, settings.risk
    features = None
    if settings.per_item and data.prompts:
        features = featurize_bench(data.prompts)
    route_counts = np.zeros((len(data.phases), len(names)), dtype=np.int64)
    last: PhaseRouting | None = None
    kinds_routing = route_by_kinds(data, settings.kinds) if settings.kinds is not None else None
    for done, seed in enumerate(settings.seeds, start=1):
        split = split_items(data.phase_of, settings.split, seed)
        hold = split.holdout
        phase = data.phase_of[hold]
        outcomes[UNIFORM_TOP].append(_outcome(data, split, np.full(hold.size, ref)))
        outcomes[UNIFORM_CHEAPEST].append(_outcome(data, split, np.full(hold.size, cheap)))
        routing = _measured(data, settings, split)
        last = routing
        for p, m in enumerate(routing.models):
            route_counts[p, m] += 1
        measured = routing.per_item(phase)
        outcomes[MEASURED].append(_outcome(data, split, measured))
        if kinds_routing is not None:
            outcomes[KINDS].append(_outcome(data, split, kinds_routing.per_item(phase)))
        outcomes[RANDOM].append(_outcome(data, split, route_randomly(measured, seed)))
        oracle = route_oracle(data.scores[hold], data.decision_costs[hold], ref)
        outcomes[ORACLE].append(_outcome(data, split, oracle))
        if features is not None:
            by_phase = route_per_item(
                data, features, split.calibration, hold, max_loss=eps, delta=delta, seed=seed
            )
            pooled = route_per_item(
                data,
                features,
                split.calibration,
                hold,
                max_loss=eps,
                delta=delta,
                seed=seed,
                pooled=True,
            )
            for key, choice in (
                (CERTIFIED, by_phase.certified),
                (CERTIFIED_WORKFLOW, pooled.certified),
                (CERTIFIED_WINDOW, pooled.windowed),
                (ITEM_BASELINE, pooled.baseline),
            ):
                outcomes[key].append(_outcome(data, split, choice))
                over, checked = phase_exceedances(data, hold, choice, eps)
                exceeded[key][0] += over
                exceeded[key][1] += checked
        if progress is not None:
            progress(done, settings.repeats)

    top, cheapest = names[ref], names[cheap]
    plans = (
        StrategyResult(UNIFORM_TOP, f"uniform {top}", "every item on the reference (top tier)"),
        StrategyResult(UNIFORM_CHEAPEST, f"uniform {cheapest}", "every item on the cheapest model"),
        StrategyResult(
            MEASURED,
            "measured phase routing",
            f"{rule}, decided on calibration items (alpha {settings.alpha:g})",
        ),
        StrategyResult(
            KINDS,
            "kind defaults",
            "deep kinds on the reference, the rest on the cheapest model"
            + (f" ({settings.kinds_source})" if settings.kinds_source else ""),
            not_run=None if settings.kinds is not None else "no --kinds mapping given",
        ),
        StrategyResult(
            RANDOM,
            "random routing",
            "each item to a random model, same model mix as measured routing (seeded)",
        ),
        StrategyResult(
            ORACLE,
            "per-item oracle",
            "cheapest model scoring at least the reference on each item (upper bound)",
        ),
        *_per_item_plans(settings, features is not None),
    )
    strategies = tuple(
        StrategyResult(
            s.key,
            s.label,
            s.description,
            () if s.not_run else tuple(outcomes[s.key]),
            s.not_run,
            tuple(exceeded[s.key]) if s.key in exceeded and not s.not_run else None,  # type: ignore[arg-type]
        )
        for s in plans
    )
    suspicion = _whole_file_suspicion(data, settings.alpha)
    phases = tuple(
        PhaseReport(
            phase=name,
            items=int(np.count_nonzero(data.phase_of == p)),
            mean_scores=tuple(
                float(data.scores[data.phase_of == p, m].mean()) for m in range(len(names))
            ),
            suspicious=suspicion[p],
            measured_routes=tuple(int(x) for x in route_counts[p]),
            last_reason=last.reasons[p] if last is not None else "",
        )
        for p, name in enumerate(data.phases)
    )
    notes = list(data.notes)
    if settings.kinds is not None:
        unmapped = [p for p in data.phases if p not in settings.kinds]
        if unmapped:
            notes.append(
                f"{len(unmapped)} phase(s) not in the kinds mapping stay on the reference: "
                + ", ".join(unmapped[:8])
                + (" …" if len(unmapped) > 8 else "")
            )
    return BenchResult(
        data=data,
        settings=settings,
        strategies=strategies,
        phases=phases,
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )
