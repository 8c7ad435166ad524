"""The evidence lock file: measured per-phase results, committed next to the policy.

``<policy-stem>.lock.json`` is written by ``phaseroute measure`` and read by the compiler
(rule 6). JSON with sorted keys and rounded numbers, so a re-measurement shows up as a small,
reviewable diff.

Staleness is judged per phase, never on the whole-policy hash (which is recorded for the
record only): evidence for a phase goes stale when

* its *measurement hash* changes — the phase's ``quality`` section (metric, margin,
  positive label, scorer, dataset), the tier order, and the catalogue entries (provider,
  model id, tier) of the models a measurement compares: the top tier's primary model and
  every model of a lower tier; or
* the dataset it was measured on changed (its SHA-256 no longer matches).

Editing an unrelated phase, a volume or a description therefore keeps the evidence.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phaseroute._jsonl import read_jsonl_bytes
from phaseroute.errors import LockFileError, Problem
from phaseroute.policy._loader import dotted
from phaseroute.policy._schema import Policy

LOCK_FORMAT: Literal["phaseroute-lock/1"] = "phaseroute-lock/1"
Decision = Literal["non_inferior", "inferior", "inconclusive"]
Outcome = Literal["non_inferior", "inferior", "inconclusive", "suspicious"]


class _Lock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Lock):
    """A point estimate with its confidence interval, on the metric's 0..1 scale."""

    estimate: float
    lower: float
    upper: float


class ModelMetric(_Lock):
    """One model's metric on the compared items."""

    model: str  # catalogue name
    model_id: str
    tier: str
    value: Interval


class Comparison(_Lock):
    """One cheaper model against the top-tier reference on the same (paired) items."""

    candidate: ModelMetric
    reference: ModelMetric
    n: int = Field(ge=0)
    gap: Interval  # reference minus candidate: positive means the top tier is better
    method: str
    decision: Decision
    stopped_early: bool
    items_needed: int | None = Field(default=None, ge=0)
    suspicious: str | None = None  # why the result looks like a data defect, when it does
    explanation: str


class DatasetRef(_Lock):
    """What was measured on: a labelled dataset, or the rows of some recorded subjects."""

    kind: Literal["labelled", "recorded"]
    path: str  # relative to the policy's folder when it lies below it
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    items: int = Field(ge=0)
    subjects: tuple[str, ...] = ()  # recorded `phase` names (recorded datasets only)


class PhaseLock(_Lock):
    """The evidence for one phase."""

    metric: str
    margin: float
    alpha: float
    seed: int
    measured_at: str
    policy_sha256: str
    measurement_sha256: str
    dataset: DatasetRef
    reference: str  # catalogue name of the top tier's primary model
    comparisons: tuple[Comparison, ...]
    chosen: str  # the model the phase should use: cheapest non-inferior, else the reference
    outcome: Outcome
    summary: str


class PerItemPool(_Lock):
    """What identifies the pool a phase was certified with (``per_item.certify: workflow``):
    the threshold was certified on the pooled certification items of these phases."""

    phases: tuple[str, ...] = Field(min_length=2)  # the pool's phases, in policy order
    certification_items: int = Field(ge=0)  # pooled certification items of all its phases
    measurement_sha256: str  # over every member's measurement hash, ε and δ (`pool_hash`)
    # This phase's own certification items at the shared threshold: figures, not guaranteed.
    phase_loss: float
    phase_cheap_share: float


class PerItemLock(_Lock):
    """A certified per-item threshold for one phase (`phaseroute.routing`), with its predictor
    as plain JSON (hashed n-gram coefficients, never a pickle). In a pool, the threshold and
    the figures ``loss``, ``p_value`` and ``cheap_share`` are the pool's; the predictor, the
    item counts and the dataset are the phase's own."""

    max_loss: float
    delta: float
    measured_at: str
    measurement_sha256: str  # the phase's measurement hash plus ε and δ
    dataset: DatasetRef
    reference: str
    candidates: tuple[str, ...]  # catalogue names, cheapest first
    fit_items: int = Field(ge=0)
    certification_items: int = Field(ge=0)
    threshold: float | None  # None: nothing certified (see `refused`)
    loss: float  # realised relative loss at the threshold on the certification items
    p_value: float
    cheap_share: float  # share of certification items routed below the top tier
    refused: str | None = None
    method: str
    predictor_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    predictor: dict[str, Any]
    pool: PerItemPool | None = None  # None: the phase was certified on its own
    window: int | None = None  # certified for the loss realised over this many future calls


class LockFile(_Lock):
    """The whole lock file: workflows → phases → evidence."""

    format: Literal["phaseroute-lock/1"] = LOCK_FORMAT
    policy_sha256: str
    updated_at: str
    workflows: dict[str, dict[str, PhaseLock]] = Field(default_factory=dict)
    per_item: dict[str, dict[str, PerItemLock]] = Field(default_factory=dict)

    def phases(self) -> Iterable[tuple[str, str, PhaseLock]]:
        for wf, phases in sorted(self.workflows.items()):
            for name, entry in sorted(phases.items()):
                yield wf, name, entry


# ------------------------------------------------------------------ paths and hashes


def lock_path(policy_path: str | Path) -> Path:
    """``<policy-stem>.lock.json`` beside the policy file."""
    p = Path(policy_path)
    return p.with_name(f"{p.stem}.lock.json")


def compared_models(policy: Policy) -> tuple[str, tuple[str, ...]]:
    """The top tier's primary model and the lower-tier candidates, cheapest tier first."""
    tiers = list(dict.fromkeys(policy.tiers))
    top = tiers[-1]
    reference = next(name for name, m in policy.models.items() if m.tier == top)
    rank = {t: i for i, t in enumerate(tiers)}
    candidates = sorted(
        (name for name, m in policy.models.items() if m.tier != top and m.tier in rank),
        key=lambda name: rank[policy.models[name].tier],
    )
    return reference, tuple(candidates)


def measurement_hash(policy: Policy, workflow: str, phase: str) -> str:
    """SHA-256 of everything one phase's measurement depends on (see the module docstring)."""
    ph = policy.workflows[workflow].phases[phase]
    reference, candidates = compared_models(policy)
    models = {
        name: {
            "provider": policy.models[name].provider,
            "id": policy.models[name].id,
            "tier": policy.models[name].tier,
        }
        for name in (reference, *candidates)
    }
    data: dict[str, Any] = {
        "quality": ph.quality.model_dump(mode="json", by_alias=True),
        "tiers": list(policy.tiers),
        "reference": reference,
        "models": models,
    }
    return hashlib.sha256(rfc8785.dumps(data)).hexdigest()


def labelled_dataset_hash(path: Path) -> str:
    """SHA-256 of a labelled dataset file's bytes (of the JSONL text when it is gzipped)."""
    return hashlib.sha256(read_jsonl_bytes(path, what="dataset")).hexdigest()


def recorded_subject_lines(path: Path) -> dict[str, list[bytes]]:
    """Raw lines of a recorded-outcome file grouped by their ``phase`` field.

    Lines that are not JSON objects with a string ``phase`` are left out; the recorded
    reader reports them when the file is measured.
    """
    out: dict[str, list[bytes]] = {}
    for raw in read_jsonl_bytes(path, what="recorded outcomes").split(b"\n"):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("phase"), str):
            out.setdefault(obj["phase"], []).append(line)
    return out


def recorded_dataset_hash(by_subject: Mapping[str, list[bytes]], subjects: Iterable[str]) -> str:
    """SHA-256 over the raw rows of the given subjects, in file order within each subject."""
    digest = hashlib.sha256()
    for subject in sorted(subjects):
        digest.update(subject.encode() + b"\n")
        for line in by_subject.get(subject, []):
            digest.update(line + b"\n")
    return digest.hexdigest()


def relative_to(path: Path, base: Path) -> str:
    """`path` relative to `base` (POSIX separators), or absolute when on another drive."""
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


# ------------------------------------------------------------------ read and write


def _rounded(value: object, key: str = "") -> object:
    """Round to 6 decimals for a readable diff; interval ends round outward, never inward.
    A per-item predictor is kept exact: its hash is over its coefficients as they are."""
    if key in ("predictor", SHARED_WEIGHTS):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and key == "lower":
            return math.floor(value * 1e6) / 1e6
        if math.isfinite(value) and key == "upper":
            return math.ceil(value * 1e6) / 1e6
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


SHARED_WEIGHTS = "per_item_weights"
_REFERENCE = "sha256:"


def _weights_by_reference(predictor: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """The predictor with each candidate's n-gram weights moved to ``shared`` (keyed by the
    SHA-256 of their JSON) and named there by reference. The phases of a pool share their
    logistic models: stored once, not once per phase (57 MMLU subjects: 3 MB, not 220 MB)."""
    candidates = []
    for c in predictor.get("candidates", []):
        weights = c.get("weights")
        if isinstance(weights, dict):
            text = json.dumps(weights, sort_keys=True, separators=(",", ":"), allow_nan=False)
            key = hashlib.sha256(text.encode()).hexdigest()
            shared[key] = weights
            candidates.append({**c, "weights": _REFERENCE + key})
        else:
            candidates.append(c)
    return {**predictor, "candidates": candidates}


def _weights_inline(data: object, file: str) -> object:
    """The lock's JSON with shared weights put back where they are referenced (the inverse of
    `_weights_by_reference`); `LockFileError` names a reference that leads nowhere."""
    if not isinstance(data, dict) or SHARED_WEIGHTS not in data:
        return data
    data = dict(data)
    shared = data.pop(SHARED_WEIGHTS)
    sections = data.get("per_item")
    if not isinstance(shared, dict) or not isinstance(sections, dict):
        return data
    for wf, phases in sections.items():
        for name, entry in (phases if isinstance(phases, dict) else {}).items():
            predictor = entry.get("predictor") if isinstance(entry, dict) else None
            candidates = predictor.get("candidates") if isinstance(predictor, dict) else None
            for i, c in enumerate(candidates if isinstance(candidates, list) else []):
                ref = c.get("weights") if isinstance(c, dict) else None
                if not isinstance(ref, str):
                    continue
                key = ref.removeprefix(_REFERENCE)
                if not ref.startswith(_REFERENCE) or key not in shared:
                    where = f"per_item.{wf}.{name}.predictor.candidates[{i}].weights"
                    raise LockFileError(
                        [
                            Problem(
                                f"names shared weights {ref!r} that {SHARED_WEIGHTS} does not hold",
                                file=file,
                                path=where,
                                fix="re-run `phaseroute measure` to regenerate the lock file",
                            )
                        ]
                    )
                c["weights"] = shared[key]
    return data


def dump_lock(lock: LockFile) -> str:
    """The lock as stable, diffable JSON: sorted keys, two-space indent, rounded floats."""
    dumped = lock.model_dump(mode="json")
    shared: dict[str, Any] = {}
    for phases in dumped["per_item"].values():
        for entry in phases.values():
            if entry["window"] is None:
                del entry["window"]  # an expected-loss certificate reads as it always did
            if entry["pool"] is None:
                del entry["pool"]  # a phase's own certificate reads as it always did
            else:
                entry["predictor"] = _weights_by_reference(entry["predictor"], shared)
    if shared:
        dumped[SHARED_WEIGHTS] = shared
    data = _rounded(dumped)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_lock(path: str | Path, lock: LockFile) -> Path:
    """Write `lock` atomically (temp file + rename) and return its path."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(dump_lock(lock), encoding="utf-8")
    tmp.replace(p)
    return p


def read_lock(path: str | Path) -> LockFile:
    """Read and validate a lock file; `LockFileError` names the file and the bad field."""
    p = Path(path)
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise LockFileError(
            [Problem(f"cannot read lock file: {e.strerror}", file=file, fix="check the path")]
        ) from None
    except UnicodeDecodeError as e:
        raise LockFileError([Problem(f"not UTF-8 text: {e.reason}", file=file)]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LockFileError(
            [
                Problem(
                    f"not valid JSON: {e.msg}",
                    file=file,
                    line=e.lineno,
                    column=e.colno,
                    fix="re-run `phaseroute measure` to regenerate the lock file",
                )
            ]
        ) from None
    try:
        return LockFile.model_validate(_weights_inline(data, file))
    except ValidationError as e:
        problems = [
            Problem(
                err["msg"],
                file=file,
                path=dotted(err["loc"]),
                fix="re-run `phaseroute measure` to regenerate the lock file",
            )
            for err in e.errors()
        ]
        raise LockFileError(problems[:20]) from None


# ------------------------------------------------------------------ evidence


def _metric_words(metric: str) -> str:
    """'accuracy' reads as it is; a replayed file's scores read as what they are."""
    return "on the recorded scores" if metric == "recorded score" else metric


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _pts(value: float) -> str:
    return f"{100 * value:.1f}"


def describe(entry: PhaseLock) -> str:
    """The evidence in words a risk officer can check against the numbers in the lock."""
    ds = entry.dataset
    subjects = f" ({', '.join(ds.subjects)})" if 0 < len(ds.subjects) <= 3 else ""
    level = f"{100 * (1 - entry.alpha):g}%"
    margin = f"{_pts(entry.margin)}-point margin"
    parts = [
        f"Measured {entry.measured_at[:10]} on {ds.path}{subjects} ({ds.items} items available, "
        f"sha256 {ds.sha256[:12]})."
    ]
    for c in entry.comparisons:
        cand, ref = c.candidate, c.reference
        line = (
            f"{cand.model} ({cand.tier}) scored {pct(cand.value.estimate)} "
            f"{_metric_words(entry.metric)} "
            f"({level} CI {pct(cand.value.lower)}–{pct(cand.value.upper)}) against "
            f"{pct(ref.value.estimate)} ({pct(ref.value.lower)}–{pct(ref.value.upper)}) "
            f"for the top-tier {ref.model} on the same {c.n} items"
        )
        if c.suspicious:
            line += (
                f"; it beat the top tier by {_pts(-c.gap.estimate)} points, far more than "
                "chance allows — usually a scoring or answer-extraction defect, so this "
                "result is not used to route cheap"
            )
        elif c.decision == "non_inferior":
            line += (
                f"; the top tier is better by at most {_pts(c.gap.upper)} points "
                f"({level} upper bound), inside the {margin}: non-inferior"
            )
        elif c.decision == "inferior":
            line += (
                f"; the top tier is better by at least {_pts(c.gap.lower)} points, more than "
                f"the {margin}: not good enough"
            )
        else:
            more = (
                f"; about {c.items_needed} more items would settle it"
                if c.items_needed
                else "; more items are needed"
            )
            line += (
                f"; the gap could be as large as {_pts(c.gap.upper)} points, above the "
                f"{margin}, and the data cannot yet rule that out{more}"
            )
        parts.append(line + ".")
    if entry.outcome == "non_inferior":
        parts.append(f"The cheapest non-inferior model, {entry.chosen}, is used.")
    elif entry.outcome == "suspicious":
        parts.append("The phase is flagged suspicious: check the scoring and the dataset.")
    else:
        parts.append(
            f"No cheaper model was shown good enough, so the phase stays on {entry.chosen}."
        )
    return " ".join(parts)


class DatasetCheck:
    """Re-hashes datasets named by a lock, reading each recorded file at most once and
    judging each dataset once (every member of a pool checks every member's)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.recorded: dict[Path, dict[str, list[bytes]]] = {}
        self.judged: dict[DatasetRef, str | None] = {}

    def stale(self, ds: DatasetRef) -> str | None:
        if ds not in self.judged:
            self.judged[ds] = self._stale(ds)
        return self.judged[ds]

    def _stale(self, ds: DatasetRef) -> str | None:
        path = Path(ds.path)
        if not path.is_absolute():
            path = self.base / path
        if not path.is_file():
            return None  # not here to re-verify (e.g. kept out of the repository): trust it
        if ds.kind == "labelled":
            now = labelled_dataset_hash(path)
        else:
            if path not in self.recorded:
                self.recorded[path] = recorded_subject_lines(path)
            now = recorded_dataset_hash(self.recorded[path], ds.subjects)
        if now != ds.sha256:
            return f"dataset {ds.path} changed since it was measured"
        return None
