"""Compiler evidence from the lock file beside a policy: each measured phase's evidence,
marked stale or suspicious, with its per-item certificate when it has one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._lock import (
    DatasetCheck,
    LockFile,
    describe,
    lock_path,
    measurement_hash,
    read_lock,
)
from phaseroute.policy._per_item_lock import per_item_evidence
from phaseroute.policy._plan import PhaseEvidence


def evidence_from_lock(
    lock: LockFile, loaded: LoadedPolicy
) -> dict[tuple[str, str], PhaseEvidence]:
    """Turn a lock into compiler evidence, marking stale and suspicious phases.

    Phases the policy no longer has are ignored. Evidence is stale when the phase's
    measurement hash or its dataset changed (see the module docstring).
    """
    policy = loaded.policy
    base = loaded.path.resolve().parent if loaded.path else Path.cwd()
    check = DatasetCheck(base)
    out: dict[tuple[str, str], PhaseEvidence] = {}
    for wf, name, entry in lock.phases():
        if wf not in policy.workflows or name not in policy.workflows[wf].phases:
            continue
        stale: str | None = None
        try:
            current = measurement_hash(policy, wf, name)
        except StopIteration:  # no model in the top tier: the compiler reports that
            current = ""
        if current != entry.measurement_sha256:
            stale = (
                "the phase's quality settings or the compared models changed since it was "
                f"measured on {entry.measured_at[:10]}"
            )
        else:
            stale = check.stale(entry.dataset)
        suspicious = None
        if entry.outcome == "suspicious":
            flagged = [c for c in entry.comparisons if c.suspicious]
            suspicious = (
                f"{flagged[0].candidate.model}: {flagged[0].suspicious}"
                if flagged
                else "a cheaper model beat the top tier far more than chance allows"
            )
        out[(wf, name)] = PhaseEvidence(
            workflow=wf,
            phase=name,
            metric=entry.metric,
            summary=describe(entry),
            model=entry.chosen,
            stale=stale,
            suspicious=suspicious,
        )
    return _with_per_item(out, lock, loaded, base)


def load_evidence(loaded: LoadedPolicy) -> dict[tuple[str, str], PhaseEvidence]:
    """Evidence from the lock file beside the loaded policy, or none when there is no lock."""
    if loaded.path is None:
        return {}
    path = lock_path(loaded.path)
    if not path.is_file():
        return {}
    return evidence_from_lock(read_lock(path), loaded)


def _with_per_item(
    out: dict[tuple[str, str], PhaseEvidence], lock: LockFile, loaded: LoadedPolicy, base: Path
) -> dict[tuple[str, str], PhaseEvidence]:
    for key, item in per_item_evidence(lock, loaded, DatasetCheck(base)).items():
        ev = out.get(key)
        if ev is None:
            out[key] = PhaseEvidence(
                workflow=key[0],
                phase=key[1],
                metric="per-item",
                summary=item.summary,
                model=None,
                per_item=item,
                phase_measured=False,
            )
        else:
            out[key] = replace(ev, per_item=item)
    return out
