"""Replay measurement: recorded outcomes (scores already known) mapped onto policy phases.

Mapping, in order:

* a mapping file (YAML or JSON) ``{workflow: {phase: [subject, ...]}}`` — a subject is a
  recorded ``phase`` value; a single subject may be written as a string;
* otherwise a recorded subject named exactly like the policy phase, or ``workflow/phase``.

Recorded model names map to catalogue models by the catalogue ``id``. Every compared model
must have a score on every mapped row: a missing score is an error naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from phaseroute.errors import DatasetError, Problem, RequestError
from phaseroute.policy._lock import recorded_dataset_hash, recorded_subject_lines
from phaseroute.policy._plan import RoutingPlan
from phaseroute.recorded import RecordedItem, RecordedOutcomes

_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ReplayPhase:
    """The recorded rows that stand for one policy phase, with per-model 0..1 scores."""

    workflow: str
    phase: str
    subjects: tuple[str, ...]
    items: tuple[RecordedItem, ...]
    sha256: str
    # catalogue model name -> recorded model name
    recorded_names: Mapping[str, str]
    outcomes: RecordedOutcomes

    def scores(self, model: str, indices: Sequence[int]) -> list[float]:
        name = self.recorded_names[model]
        return [self.outcomes.normalised(self.items[i].scores[name]) for i in indices]

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def binary(self) -> bool:
        """Whether every score of this phase is 0 or 1 on the file's scale."""
        return all(
            s in (self.outcomes.score_min, self.outcomes.score_max)
            for it in self.items
            for s in it.scores.values()
        )


def read_mapping(path: str | Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """Read a mapping file ``{workflow: {phase: subject | [subjects]}}``."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise RequestError(f"{p}: cannot read the mapping file: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise RequestError(f"{p}: the mapping file is not YAML/JSON: {e}") from None
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    if not isinstance(data, dict):
        raise DatasetError([Problem("expected {workflow: {phase: [subjects]}}", file=str(p))])
    for wf, phases in data.items():
        if not isinstance(phases, dict):
            raise DatasetError([Problem("expected {phase: [subjects]}", file=str(p), path=str(wf))])
        for phase, subjects in phases.items():
            values = [subjects] if isinstance(subjects, str) else subjects
            if not isinstance(values, list) or not all(isinstance(s, str) for s in values):
                raise DatasetError(
                    [
                        Problem(
                            "a phase maps to a subject or a list of subjects",
                            file=str(p),
                            path=f"{wf}.{phase}",
                        )
                    ]
                )
            out[(str(wf), str(phase))] = tuple(values)
    return out


def default_subjects(outcomes: RecordedOutcomes, workflow: str, phase: str) -> tuple[str, ...]:
    """The recorded subject named like the phase (or ``workflow/phase``), if any."""
    for name in (f"{workflow}/{phase}", phase):
        if name in outcomes.phases:
            return (name,)
    sanitised = {phase_name(s): s for s in outcomes.phases}
    if phase in sanitised:
        return (sanitised[phase],)
    return ()


def replay_phase(
    outcomes: RecordedOutcomes,
    plan: RoutingPlan,
    workflow: str,
    phase: str,
    subjects: Sequence[str],
    models: Sequence[str],
    lines: Mapping[str, list[bytes]],
) -> ReplayPhase:
    """The rows of `subjects` for `workflow/phase`, checked to score every model in `models`."""
    file = str(outcomes.path)
    missing_subjects = [s for s in subjects if s not in outcomes.phases]
    if missing_subjects:
        known = ", ".join(sorted(outcomes.phases)[:10])
        raise DatasetError(
            [
                Problem(
                    f"{workflow}/{phase} maps to recorded subject(s) "
                    f"{', '.join(missing_subjects)} that the file does not have",
                    file=file,
                    fix=f"use recorded phase names, e.g. {known}",
                )
            ]
        )
    names: dict[str, str] = {}
    for model in models:
        model_id = plan.models[model].model_id
        if model_id not in outcomes.models:
            raise DatasetError(
                [
                    Problem(
                        f"no recorded scores for catalogue model {model!r} (id {model_id!r})",
                        file=file,
                        fix="recorded model names match catalogue ids; recorded models: "
                        + ", ".join(outcomes.models),
                    )
                ]
            )
        names[model] = model_id
    items = tuple(it for s in subjects for it in outcomes.phases[s])
    problems = [
        Problem(
            f"no score for {name!r}, which {workflow}/{phase} compares",
            file=file,
            line=it.line,
            path=f"scores.{name}",
            fix="every compared model needs a score on every row of a measured subject",
        )
        for it in items
        for name in names.values()
        if name not in it.scores
    ]
    if problems:
        raise DatasetError(problems[:20])
    return ReplayPhase(
        workflow=workflow,
        phase=phase,
        subjects=tuple(subjects),
        items=items,
        sha256=recorded_dataset_hash(lines, subjects),
        recorded_names=names,
        outcomes=outcomes,
    )


# ------------------------------------------------------------------ a policy for a file


def phase_name(subject: str) -> str:
    """A policy-safe name for a recorded subject (letters, digits, ``_ . -``)."""
    name = _NAME.sub("-", subject).strip("-._") or "phase"
    return name if name[0].isalnum() else f"p{name}"


def replay_policy_yaml(
    outcomes: RecordedOutcomes,
    outcomes_ref: str,
    *,
    workflow: str,
    margin: float = 0.02,
) -> str:
    """YAML of a policy measuring every recorded subject as a phase of one workflow.

    One tier per recorded model, ordered by mean score (the best model is the top tier);
    catalogue ids are the recorded names, so replay maps them back; every phase is a
    judgment phase (strong by default) measured on accuracy (0/1 scores) or score.
    """
    means = {
        m: sum(outcomes.normalised(it.scores[m]) for it in outcomes if m in it.scores)
        / max(1, sum(1 for it in outcomes if m in it.scores))
        for m in outcomes.models
    }
    ordered = sorted(outcomes.models, key=lambda m: (means[m], m))
    tiers = (
        ["cheap", "strong"] if len(ordered) == 2 else [f"tier{i + 1}" for i in range(len(ordered))]
    )
    names: dict[str, str] = {}
    for m in ordered:
        base = phase_name(m.split("/")[-1])
        name = base
        k = 2
        while name in names.values():
            name, k = f"{base}-{k}", k + 1
        names[m] = name
    phases: dict[str, str] = {}
    for subject in outcomes.phases:
        name = phase_name(subject)
        if name in phases:
            raise DatasetError(
                [
                    Problem(
                        f"subjects {phases[name]!r} and {subject!r} both become phase {name!r}",
                        file=str(outcomes.path),
                        fix="rename one subject, or write the policy by hand with a mapping file",
                    )
                ]
            )
        phases[name] = subject
    binary = all(
        s in (outcomes.score_min, outcomes.score_max) for it in outcomes for s in it.scores.values()
    )
    metric = "accuracy" if binary else "score"
    doc = {
        "version": 1,
        "description": f"Every subject of {Path(outcomes_ref).name} measured as a phase.",
        "tiers": tiers,
        "providers": {"recorded": {"type": "replay", "outcomes": outcomes_ref}},
        "models": {
            names[m]: {"provider": "recorded", "id": m, "tier": tiers[i]}
            for i, m in enumerate(ordered)
        },
        "workflows": {
            workflow: {
                "description": f"One phase per recorded subject of {Path(outcomes_ref).name}.",
                "phases": {
                    name: {
                        "kind": "judgment",
                        "catastrophic_error": "throughput",
                        "description": f"recorded subject {subject}",
                        "quality": {"metric": metric, "margin": margin},
                    }
                    for name, subject in phases.items()
                },
            }
        },
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def subject_lines(outcomes: RecordedOutcomes) -> dict[str, list[bytes]]:
    """Raw rows of the recorded file by subject (for the dataset hash)."""
    return recorded_subject_lines(outcomes.path)
