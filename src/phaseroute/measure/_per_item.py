"""Certify per-item routing for the phases that opt in (``route: {per_item: ...}``).

For each such phase with replayed outcomes: the phase's items are shuffled (seeded); a
quarter (`FIT_SHARE`) fit the predictor (`phaseroute.routing`) and the threshold is certified
on the rest, so the certificate's guarantee holds for new items of the phase exchangeable
with these. The benchmark's per-item strategies run this same procedure. The result is a
`PerItemLock` for the lock file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from phaseroute.measure._harness import PhaseTask
from phaseroute.measure._replay import ReplayPhase
from phaseroute.policy import LoadedPolicy
from phaseroute.policy._lock import LockFile, PerItemLock, compared_models, per_item_hash

METHOD = (
    "Learn-then-Test, fixed-sequence testing from the most conservative threshold, betting "
    "p-value with bets sized for the certification items, on the relative quality loss "
    "(Angelopoulos et al. 2021; Waudby-Smith & Ramdas 2023)"
)


def certify_phase(
    task: PhaseTask, loaded: LoadedPolicy, *, seed: int, when: datetime
) -> PerItemLock | None:
    """The certificate of one opted-in phase from its replayed outcomes (None otherwise)."""
    from phaseroute.routing import (  # noqa: PLC0415 (scikit-learn only when measuring)
        HashingSpec,
        certify,
        feature_matrix,
        fit_predictor,
        predict_many,
        split_fit_certify,
    )

    policy = loaded.policy
    ph = policy.workflows[task.workflow].phases[task.phase]
    if ph.route is None or ph.route.per_item is None or not isinstance(task.source, ReplayPhase):
        return None
    settings = ph.route.per_item
    rp = task.source
    reference, candidates = compared_models(policy)
    names = (*candidates, reference)
    n = rp.size
    everything = list(range(n))
    scores = np.array([rp.scores(m, everything) for m in names], dtype=np.float64).T
    fit_rows, cert_rows = split_fit_certify(np.arange(n), np.zeros(n, dtype=np.int64), seed)
    spec = HashingSpec()
    features = feature_matrix([it.prompt for it in rp.items], spec)
    ref = len(candidates)
    predictor = fit_predictor(
        features.rows(fit_rows), scores[fit_rows], ref, list(range(ref)), names, spec, seed=seed
    )
    cert = certify(
        predict_many(predictor, features.rows(cert_rows)),
        scores[cert_rows, :ref],
        scores[cert_rows, ref],
        max_loss=settings.max_loss,
        delta=settings.delta,
        seed=seed,
    )
    data = predictor.to_json()
    return PerItemLock(
        max_loss=settings.max_loss,
        delta=settings.delta,
        measured_at=when.isoformat(timespec="seconds"),
        measurement_sha256=per_item_hash(policy, task.workflow, task.phase),
        dataset=task.dataset,
        reference=reference,
        candidates=tuple(candidates),
        fit_items=int(fit_rows.size),
        certification_items=int(cert_rows.size),
        threshold=cert.threshold if cert.certified else None,
        loss=cert.loss,
        p_value=cert.p_value,
        cheap_share=cert.cheap_share,
        refused=cert.refused
        if cert.refused is not None or cert.certified
        else "no threshold below the top tier passed the test",
        method=METHOD,
        predictor_sha256=predictor.sha256,
        predictor=data,
    )


def add_per_item(
    lock: LockFile,
    tasks: Sequence[PhaseTask],
    loaded: LoadedPolicy,
    *,
    seed: int,
    when: datetime,
) -> tuple[LockFile, list[tuple[str, str, PerItemLock]]]:
    """The lock with fresh certificates for every opted-in phase among ``tasks``."""
    sections = {wf: dict(phases) for wf, phases in lock.per_item.items()}
    made: list[tuple[str, str, PerItemLock]] = []
    for task in tasks:
        entry = certify_phase(task, loaded, seed=seed, when=when)
        if entry is None:
            continue
        sections.setdefault(task.workflow, {})[task.phase] = entry
        made.append((task.workflow, task.phase, entry))
    return lock.model_copy(update={"per_item": sections}), made
