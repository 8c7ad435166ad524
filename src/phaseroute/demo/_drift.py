"""The production loop, offline: routed traffic, a simulated drift, the alarm and the revert.

Intake screening is routed to the cheaper recorded model and checked in production (see
examples/drift/phaseroute.yaml). Traffic is served through `Router.from_policy`, which
attaches the production monitor the policy asks for. From call `drift_from` on, the cheaper
model's recorded answers are degraded (half of its right answers become wrong: the
simulated drift); the top tier's are untouched. The monitor's shadow pairs show the gap,
the drift test raises the alarm, the phase reverts to the top tier (an audit record), and
the dashboard page is written for a person to look at.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from phaseroute.audit import AuditTrail, generate_key_pair, stats
from phaseroute.errors import RequestError
from phaseroute.gateway._dashboard import AuditPanel, collect, render
from phaseroute.monitor import PhaseStatus, ProductionMonitor
from phaseroute.recorded import read_recorded
from phaseroute.runtime import Router

SUBJECTS = ("marketing", "sociology", "high_school_government_and_politics")
WORKFLOW, PHASE = "aml_alert_review", "intake_screening"
CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"


@dataclass(frozen=True)
class DriftDemoResult:
    workdir: Path
    calls: int
    drift_from: int
    status: PhaseStatus
    first_top_tier_call: int | None  # the first call served by the top tier after the revert
    audit_sequence: int | None  # the revert's audit record
    dashboard: Path


def _find(example: Path | None, name: str) -> Path:
    candidates = [example] if example else [Path("examples") / name]
    candidates.append(Path(__file__).resolve().parents[3] / "examples" / name)
    for c in candidates:
        if c is not None and (c / "phaseroute.yaml").is_file():
            return c
    raise RequestError(
        f"the {name} example was not found (looked in {', '.join(map(str, candidates))}) — "
        "run from a clone of phaseroute or pass --example DIR"
    )


def _write_outcomes(source: Path, target: Path, seed: int) -> list[str]:
    """The stand-in items of SUBJECTS, each also as a drifted copy (`<id>~drift`) whose
    cheaper answers are half as often right. Returns the original item ids."""
    rng = random.Random(seed)
    ids = []
    with target.open("w") as out:
        for item in read_recorded(source):
            if item.phase not in SUBJECTS:
                continue
            ids.append(item.item)
            row = {"phase": PHASE, "item": item.item, "prompt": item.prompt,
                   "scores": dict(item.scores)}  # fmt: skip
            out.write(json.dumps(row) + "\n")
            drifted = dict(item.scores)
            if drifted[CHEAP] and rng.random() < 0.5:
                drifted[CHEAP] = 0
            row = {**row, "item": f"{item.item}~drift", "prompt": f"{item.prompt}\n(later)",
                   "scores": drifted}  # fmt: skip
            out.write(json.dumps(row) + "\n")
    return ids


def run_drift_demo(
    workdir: Path,
    *,
    calls: int = 4000,
    drift_from: int = 2000,
    seed: int = 7,
    example: Path | None = None,
) -> DriftDemoResult:
    """Serve `calls` screening calls, degrading the cheaper model from `drift_from` on."""
    source_dir = _find(example, "drift")
    standins = _find(None, "aml") / "data" / "mmlu_standins.jsonl"
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("phaseroute.db*"):
        stale.unlink()
    policy = workdir / "phaseroute.yaml"
    shutil.copyfile(source_dir / "phaseroute.yaml", policy)
    ids = _write_outcomes(standins, workdir / "drift_outcomes.jsonl", seed)
    generate_key_pair(workdir, "audit", force=True)  # a fresh trail needs no old key
    rng = random.Random(seed)
    first_top: int | None = None
    with Router.from_policy(policy) as router:
        monitor = router.observer
        assert isinstance(monitor, ProductionMonitor)
        for n in range(calls):
            item = ids[rng.randrange(len(ids))] + ("~drift" if n >= drift_from else "")
            result = router.complete(
                WORKFLOW,
                PHASE,
                [{"role": "user", "content": "screen this alert"}],
                metadata={"item": item},
            )
            if first_top is None and result.tier == "frontier":
                first_top = n
            if n % 100 == 99:
                monitor.drain()  # keep the offline run in step; live traffic never waits
        monitor.drain()
        (status,) = monitor.status()
        events = monitor.store.events(router.plan.policy_hash)
        audit = router.audit
        panel = None
        if isinstance(audit, AuditTrail):
            s = stats(audit.store)
            panel = AuditPanel(
                s.records, s.head_seq, s.checkpoints, s.last_checkpoint_seq, s.last_checkpoint_at
            )
        page = render(collect(router, policy="examples/drift", monitor=monitor, audit=panel))
    dashboard = workdir / "dashboard.html"
    dashboard.write_text(page)
    return DriftDemoResult(
        workdir,
        calls,
        drift_from,
        status,
        first_top,
        events[-1].audit_sequence if events else None,
        dashboard,
    )
