"""Certify per-item routing for the phases that opt in (``route: {per_item: ...}``).

A phase is certified on its own, or, with ``certify: workflow``, in one pool with every other
phase of its workflow that says so. The pool's items are shuffled (seeded, per phase); a
quarter of each phase's (`FIT_SHARE`) fit the predictors — one per phase, sharing their
logistic models — and one threshold is certified on all the rest
(`phaseroute.routing.fit_and_certify`, the procedure the benchmark's per-item strategies
run). The guarantee holds for new calls exchangeable with these items: a phase's, or for a
pool its calls in the phase mix of these items. The result is one `PerItemLock` per phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from phaseroute.measure._harness import PhaseTask
from phaseroute.measure._replay import ReplayPhase
from phaseroute.policy import LoadedPolicy
from phaseroute.policy._lock import (
    LockFile,
    PerItemLock,
    PerItemPool,
    compared_models,
)
from phaseroute.policy._per_item_lock import per_item_hash, per_item_pool, pool_hash

METHOD = (
    "Learn-then-Test, fixed-sequence testing from the most conservative threshold, betting "
    "p-value with bets sized for the certification items, on the relative quality loss "
    "(Angelopoulos et al. 2021; Waudby-Smith & Ramdas 2023)"
)
WINDOW_METHOD = (
    "; for a batch of future calls, δ split between that test (of E[X + κX²] ≤ −c) and "
    "Bernstein's inequality on the batch"
)


def _opted_in(task: PhaseTask, loaded: LoadedPolicy) -> bool:
    ph = loaded.policy.workflows[task.workflow].phases[task.phase]
    return (
        ph.route is not None
        and ph.route.per_item is not None
        and isinstance(task.source, ReplayPhase)
    )


def certify_pool(
    tasks: Sequence[PhaseTask], loaded: LoadedPolicy, *, seed: int, when: datetime
) -> list[PerItemLock]:
    """The certificates of one pool — one replayed phase, or every phase of a workflow with
    ``certify: workflow`` — one per phase, in the order of ``tasks``."""
    from phaseroute.routing import (  # noqa: PLC0415 (scikit-learn only when measuring)
        HashingSpec,
        feature_matrix,
        fit_and_certify,
    )

    policy = loaded.policy
    workflow = tasks[0].workflow
    sources = [t.source for t in tasks]
    assert all(isinstance(s, ReplayPhase) for s in sources)
    replays = [s for s in sources if isinstance(s, ReplayPhase)]
    first = policy.workflows[workflow].phases[tasks[0].phase].route
    assert first is not None
    settings = first.per_item
    assert settings is not None
    reference, candidates = compared_models(policy)
    names = (*candidates, reference)
    scores = np.vstack(
        [np.array([rp.scores(m, range(rp.size)) for m in names]).T for rp in replays]
    ).astype(np.float64)
    groups = np.repeat(np.arange(len(replays), dtype=np.int64), [rp.size for rp in replays])
    spec = HashingSpec()
    features = feature_matrix([it.prompt for rp in replays for it in rp.items], spec)
    ref = len(candidates)
    fitted = fit_and_certify(
        features,
        scores,
        groups if len(replays) > 1 else None,
        reference=ref,
        candidates=list(range(ref)),
        names=names,
        max_loss=settings.max_loss,
        delta=settings.delta,
        seed=seed,
        spec=spec,
        window=settings.window,
    )
    cert = fitted.certificate
    members = tuple(t.phase for t in tasks)
    shared_hash = pool_hash(policy, workflow, members) if len(members) > 1 else ""
    fit_groups = groups[fitted.fit_rows]
    out: list[PerItemLock] = []
    for g, task in enumerate(tasks):
        predictor = fitted.predictors[g]
        cert_items, phase_loss, phase_cheap = fitted.group_figures(g)
        pool = (
            PerItemPool(
                phases=members,
                certification_items=int(fitted.cert_rows.size),
                measurement_sha256=shared_hash,
                phase_loss=phase_loss,
                phase_cheap_share=phase_cheap,
            )
            if len(members) > 1
            else None
        )
        out.append(
            PerItemLock(
                max_loss=settings.max_loss,
                delta=settings.delta,
                measured_at=when.isoformat(timespec="seconds"),
                measurement_sha256=per_item_hash(policy, workflow, task.phase),
                dataset=task.dataset,
                reference=reference,
                candidates=tuple(candidates),
                fit_items=int(np.sum(fit_groups == g)),
                certification_items=cert_items,
                threshold=cert.threshold if cert.certified else None,
                loss=cert.loss,
                p_value=cert.p_value,
                cheap_share=cert.cheap_share,
                refused=cert.refused
                if cert.refused is not None or cert.certified
                else "no threshold below the top tier passed the test",
                method=METHOD if settings.window is None else METHOD + WINDOW_METHOD,
                predictor_sha256=predictor.sha256,
                predictor=predictor.to_json(),
                pool=pool,
                window=settings.window,
            )
        )
    return out


def add_per_item(
    lock: LockFile,
    tasks: Sequence[PhaseTask],
    loaded: LoadedPolicy,
    *,
    seed: int,
    when: datetime,
) -> tuple[LockFile, list[tuple[str, str, PerItemLock]], list[str]]:
    """The lock with fresh certificates for every opted-in phase among ``tasks``, the
    certificates made, and why any pool was left uncertified (a phase of it was not
    replayed in this run: a pool is certified from all its phases' items at once)."""
    sections = {wf: dict(phases) for wf, phases in lock.per_item.items()}
    made: list[tuple[str, str, PerItemLock]] = []
    notes: list[str] = []
    replayed = {(t.workflow, t.phase): t for t in tasks if _opted_in(t, loaded)}
    done: set[tuple[str, str]] = set()
    for key in replayed:
        if key in done:
            continue
        workflow, phase = key
        members = per_item_pool(loaded.policy, workflow, phase)
        done.update((workflow, m) for m in members)
        missing = [m for m in members if (workflow, m) not in replayed]
        if missing:
            notes.append(
                f"{workflow}: the per-item pool of {', '.join(members)} was not certified: "
                f"{', '.join(missing)} not replayed in this run — measure the pool's phases "
                f"together (--workflow {workflow}, with outcomes for each)"
            )
            continue
        phases = loaded.policy.workflows[workflow].phases
        recall = [m for m in members if phases[m].quality.metric == "recall"]
        if recall:
            notes.append(
                f"{workflow}: the per-item routing of {', '.join(recall)} was not certified: its "
                "loss is recall on positives, and recorded outcomes carry one score per answer, "
                "not labels — nothing certifies it yet (its phase routing stands)"
            )
            continue
        pool_tasks = [replayed[(workflow, m)] for m in members]
        for task, entry in zip(
            pool_tasks, certify_pool(pool_tasks, loaded, seed=seed, when=when), strict=True
        ):
            sections.setdefault(workflow, {})[task.phase] = entry
            made.append((workflow, task.phase, entry))
    return lock.model_copy(update={"per_item": sections}), made, notes
