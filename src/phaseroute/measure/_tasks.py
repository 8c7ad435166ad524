"""Which phases to measure, on what data: turns a policy plus a data location into tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from phaseroute.errors import DatasetError, PolicyError, Problem, RequestError
from phaseroute.measure._dataset import read_labelled
from phaseroute.measure._harness import PhaseTask
from phaseroute.measure._live import LiveSource
from phaseroute.measure._replay import default_subjects, replay_phase
from phaseroute.measure._scorers import (
    ModelCaller,
    build_scorer,
    check_items,
    positive_items,
)
from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._lock import DatasetRef, compared_models, recorded_subject_lines, relative_to
from phaseroute.policy._plan import RoutingPlan
from phaseroute.recorded import RecordedOutcomes

Skipped = tuple[str, str, str]  # workflow, phase, why it was not measured


def select_phases(
    plan: RoutingPlan, workflow: str | None, phase: str | None
) -> list[tuple[str, str]]:
    """The (workflow, phase) keys a run measures, in declaration order."""
    if workflow is not None and phase is not None:
        return [plan.decision(workflow, phase).key]
    if workflow is not None:
        return [d.key for d in plan.for_workflow(workflow)]
    keys = [d.key for d in plan if phase is None or d.phase == phase]
    if not keys:
        raise RequestError(f"no workflow of this policy has a phase named {phase!r}")
    return keys


def _base(loaded: LoadedPolicy) -> Path:
    return loaded.path.resolve().parent if loaded.path else Path.cwd()


def replay_tasks(
    loaded: LoadedPolicy,
    plan: RoutingPlan,
    outcomes: RecordedOutcomes,
    keys: Sequence[tuple[str, str]],
    mapping: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
) -> tuple[list[PhaseTask], list[Skipped]]:
    """A task per selected phase that has recorded subjects; the others are skipped."""
    reference, candidates = compared_models(loaded.policy)
    lines = recorded_subject_lines(outcomes.path)
    base = _base(loaded)
    tasks: list[PhaseTask] = []
    skipped: list[Skipped] = []
    for wf, name in keys:
        if mapping is not None:
            subjects = mapping.get((wf, name), ())
        else:
            subjects = default_subjects(outcomes, wf, name)
        if not subjects:
            skipped.append((wf, name, f"no recorded subject for it in {outcomes.path.name}"))
            continue
        rp = replay_phase(outcomes, plan, wf, name, subjects, (reference, *candidates), lines)
        ref = DatasetRef(
            kind="recorded",
            path=relative_to(outcomes.path, base),
            sha256=rp.sha256,
            items=len(rp.items),
            subjects=rp.subjects,
        )
        tasks.append(PhaseTask(wf, name, rp, ref))
    return tasks, skipped


def dataset_path(
    loaded: LoadedPolicy, workflow: str, phase: str, data_dir: Path | None
) -> Path | None:
    """``DIR/<workflow>/<phase>.jsonl`` (or ``.jsonl.gz``) when it exists, else the phase's
    ``quality.dataset``."""
    if data_dir is not None:
        for suffix in (".jsonl", ".jsonl.gz"):
            candidate = data_dir / workflow / f"{phase}{suffix}"
            if candidate.is_file():
                return candidate
    declared = loaded.policy.workflows[workflow].phases[phase].quality.dataset
    if declared is not None:
        path = Path(declared)
        return path if path.is_absolute() else _base(loaded) / path
    return None


def live_tasks(
    loaded: LoadedPolicy,
    plan: RoutingPlan,
    caller: ModelCaller,
    keys: Sequence[tuple[str, str]],
    data_dir: Path | None,
    *,
    max_tokens: int = 1024,
) -> tuple[list[PhaseTask], list[Skipped]]:
    """A task per selected phase that has a labelled dataset; the others are skipped."""
    tasks: list[PhaseTask] = []
    skipped: list[Skipped] = []
    src = loaded.source
    for wf, name in keys:
        path = dataset_path(loaded, wf, name, data_dir)
        if path is None:
            looked = f"{data_dir}/{wf}/{name}.jsonl[.gz]" if data_dir else "--data DIR"
            skipped.append((wf, name, f"no dataset (looked for {looked} and quality.dataset)"))
            continue
        quality = loaded.policy.workflows[wf].phases[name].quality
        qpath = ("workflows", wf, "phases", name, "quality")
        if not path.is_file():
            raise PolicyError(
                [src.problem((*qpath, "dataset"), f"dataset {path} not found", "fix the path")]
            )
        dataset = read_labelled(path)

        def where(sub: tuple[str, ...], message: str, fix: str) -> Problem:
            return src.problem((*qpath, "scorer", *sub), message, fix)  # noqa: B023

        scorer_cfg = quality.scorer
        judge: tuple[str, str] | None = None
        if scorer_cfg is not None and scorer_cfg.type == "judge":
            if scorer_cfg.workflow and scorer_cfg.phase:
                m = plan.decision(scorer_cfg.workflow, scorer_cfg.phase).model
            else:
                m = plan.top_model()
            judge = (m.name, m.model_id)
        scorer = build_scorer(
            quality, where=where, caller=caller, judge_model=judge, purpose=f"{wf}/{name}:judge"
        )
        items = list(dataset.items)
        if quality.metric == "recall":
            if not quality.positive_label:
                raise PolicyError(
                    [
                        src.problem(
                            qpath,
                            "metric recall needs the positive (risk) class",
                            "add quality.positive_label",
                        )
                    ]
                )
            items = positive_items(items, quality.positive_label)
            if not items:
                raise DatasetError(
                    [
                        Problem(
                            f"no row is labelled {quality.positive_label!r}, so recall on "
                            "positives cannot be measured",
                            file=str(path),
                            fix="add positive examples",
                        )
                    ]
                )
        check_items(scorer, items, str(path))
        source = LiveSource(
            items, scorer, caller, plan, purpose=f"{wf}/{name}", max_tokens=max_tokens
        )
        ref = DatasetRef(
            kind="labelled",
            path=relative_to(path, _base(loaded)),
            sha256=dataset.sha256,
            items=len(items),
        )
        tasks.append(PhaseTask(wf, name, source, ref))
    return tasks, skipped
