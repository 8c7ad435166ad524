"""Per-item certificates in the lock file: what identifies one (its measurement hash, its
pool and the pool's hash), how it reads in words, and whether it still holds for the policy
(staleness) — turned into `PerItemEvidence` for the compiler. The entries themselves
(`PerItemLock`, `PerItemPool`) are part of the lock file's format in `_lock`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import rfc8785

from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._lock import (
    DatasetCheck,
    LockFile,
    PerItemLock,
    measurement_hash,
    pct,
)
from phaseroute.policy._plan import PerItemEvidence
from phaseroute.policy._schema import Policy


def per_item_hash(policy: Policy, workflow: str, phase: str) -> str:
    """The phase's measurement hash extended with its per-item ε, δ (and window, when set)."""
    route = policy.workflows[workflow].phases[phase].route
    settings = (
        route.per_item.model_dump(mode="json", exclude={"certify"}, exclude_none=True)
        if route and route.per_item
        else None
    )
    data = {"measurement": measurement_hash(policy, workflow, phase), "per_item": settings}
    return hashlib.sha256(rfc8785.dumps(data)).hexdigest()


def per_item_pool(policy: Policy, workflow: str, phase: str) -> tuple[str, ...]:
    """The phases certified together with ``phase``, in policy order: every phase of the
    workflow with ``per_item.certify: workflow`` when it is one of them, else the phase."""
    phases = policy.workflows[workflow].phases
    route = phases[phase].route
    if route is None or route.per_item is None or route.per_item.certify != "workflow":
        return (phase,)
    return tuple(
        name
        for name, ph in phases.items()
        if ph.route is not None
        and ph.route.per_item is not None
        and ph.route.per_item.certify == "workflow"
    )


def pool_hash(policy: Policy, workflow: str, phases: Iterable[str]) -> str:
    """SHA-256 over the measurement hash of every phase of a pool and the pool's ε, δ and
    window (the first phase's: the linter holds them equal)."""
    members = tuple(phases)
    route = policy.workflows[workflow].phases[members[0]].route
    settings = route.per_item if route is not None else None
    data: dict[str, Any] = {
        "members": {m: measurement_hash(policy, workflow, m) for m in members},
        "max_loss": settings.max_loss if settings is not None else None,
        "delta": settings.delta if settings is not None else None,
    }
    if settings is not None and settings.window is not None:
        data["window"] = settings.window
    return hashlib.sha256(rfc8785.dumps(data)).hexdigest()


def describe_per_item(entry: PerItemLock, workflow: str = "") -> str:
    """The certificate in words, with the figures a reviewer checks."""
    pool = entry.pool
    head = (
        f"Per-item routing measured {entry.measured_at[:10]} on {entry.dataset.path} "
        f"(sha256 {entry.dataset.sha256[:12]}): predictor {entry.predictor_sha256[:12]} fit on "
        f"{entry.fit_items} items"
    )
    if pool is None:
        head += f", threshold tested on {entry.certification_items} others"
        scope = "quality loss"
    else:
        phases = ", ".join(pool.phases)
        name = f"workflow {workflow}'s pool" if workflow else "the pool"
        head += (
            f" of this phase, one threshold certified for {name} (phases {phases}) on "
            f"{pool.certification_items} pooled certification items "
            f"({entry.certification_items} of this phase)"
        )
        scope = f"quality loss over the calls of phases {phases} in the calibration mix"
    if entry.window is not None:
        scope = f"{scope} realised over a batch of {entry.window:,} future calls"
    if entry.threshold is None:
        return f"{head}; nothing certified — {entry.refused or 'no threshold passed'}."
    text = (
        f"{head}; threshold {entry.threshold:g} certified by {entry.method}: P({scope} > "
        f"{pct(entry.max_loss)} of the top tier) ≤ {entry.delta:g}; on the "
        f"{'pooled ' if pool else ''}certification items it sent {pct(entry.cheap_share)} "
        f"below the top tier and lost {pct(entry.loss)} (p = {entry.p_value:.3g})"
    )
    if pool is not None:
        text += (
            f"; on this phase's own it sent {pct(pool.phase_cheap_share)} below and lost "
            f"{pct(pool.phase_loss)} (the guarantee covers the pool, not one phase)"
        )
    return text + "."


def _pool_stale(
    lock: LockFile,
    policy: Policy,
    workflow: str,
    phase: str,
    entry: PerItemLock,
    check: DatasetCheck,
) -> str | None:
    """Why the pool ``entry`` was certified with no longer holds for the policy, if it does
    not: a phase joined or left it, a member's measurement or ε/δ changed, a member's entry
    is missing or disagrees, or a member's dataset changed."""
    stored = entry.pool.phases if entry.pool is not None else (phase,)
    try:
        current = per_item_pool(policy, workflow, phase)
    except StopIteration:
        current = (phase,)
    when = entry.measured_at[:10]
    if set(stored) != set(current):
        if current == (phase,):
            return (
                "the phase now certifies on its own, but its certificate is the pool's of "
                f"phases {', '.join(stored)} (measured on {when})"
            )
        joined = ", ".join(p for p in current if p not in stored)
        left = ", ".join(p for p in stored if p not in current)
        what = "; ".join(
            part for part in (joined and f"{joined} joined", left and f"{left} left") if part
        )
        return (
            f"the pool of phases certified together changed since it was measured on {when} "
            f"({what}; the certificate covers {', '.join(stored)})"
        )
    if entry.pool is None:
        return None
    entries = lock.per_item.get(workflow, {})
    for member in stored:
        other = entries.get(member)
        if (
            other is None
            or other.pool is None
            or other.pool.measurement_sha256 != entry.pool.measurement_sha256
            or other.threshold != entry.threshold
        ):
            return (
                f"the lock holds no matching certificate of pool member {member!r} from the "
                f"same measurement (edited by hand, or measured apart?)"
            )
    try:
        now = pool_hash(policy, workflow, stored)
    except StopIteration:
        now = ""
    if now != entry.pool.measurement_sha256:
        for member in stored:
            try:
                changed = (
                    per_item_hash(policy, workflow, member) != entries[member].measurement_sha256
                )
            except StopIteration:
                changed = True
            if changed:
                return (
                    f"pool member {member!r}'s quality or per-item settings or the compared "
                    f"models changed since the pool was measured on {when}"
                )
        return f"the pool's settings or compared models changed since it was measured on {when}"
    for member in stored:
        why = check.stale(entries[member].dataset)
        if why is not None:
            return f"pool member {member!r}: {why}"
    return None


def per_item_evidence(
    lock: LockFile, loaded: LoadedPolicy, check: DatasetCheck
) -> dict[tuple[str, str], PerItemEvidence]:
    from phaseroute.routing._predictor import ItemPredictor, SharedWeights  # noqa: PLC0415

    policy = loaded.policy
    shared = SharedWeights()  # a pool's predictors share their logistic models
    out: dict[tuple[str, str], PerItemEvidence] = {}
    for wf, phases in sorted(lock.per_item.items()):
        for name, entry in sorted(phases.items()):
            if wf not in policy.workflows or name not in policy.workflows[wf].phases:
                continue
            stale: str | None = None
            predictor: ItemPredictor | None = None
            try:
                predictor = ItemPredictor.from_json(entry.predictor, shared)
            except (ValueError, KeyError, TypeError) as e:
                stale = f"the stored predictor cannot be read ({e}; written by another version?)"
            if predictor is not None and predictor.sha256 != entry.predictor_sha256:
                stale = "the stored predictor does not match its hash (edited by hand?)"
            try:
                current = per_item_hash(policy, wf, name)
            except StopIteration:
                current = ""
            if stale is None and current != entry.measurement_sha256:
                stale = (
                    "the phase's quality or per-item settings or the compared models changed "
                    f"since it was measured on {entry.measured_at[:10]}"
                )
            stale = stale or _pool_stale(lock, policy, wf, name, entry, check)
            stale = stale or check.stale(entry.dataset)
            out[(wf, name)] = PerItemEvidence(
                max_loss=entry.max_loss,
                delta=entry.delta,
                threshold=entry.threshold,
                predictor=predictor,
                candidates=entry.candidates,
                summary=describe_per_item(entry, wf),
                stale=stale,
            )
    return out
