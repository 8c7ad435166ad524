"""The offline demo: measure, route, serve, audit and cost the AML example on recorded data.

Every step is the same code a team runs for real: the harness measures each phase from
recorded outcomes and writes the lock; the compiler reads it; the Router serves every
recorded case through the replay provider with the audit trail on; the chain is verified
with the public key; costs come from the price catalogue.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from phaseroute.audit import AuditTrail, VerificationReport, generate_key_pair, load_public_key
from phaseroute.costs import (
    CostProjection,
    PriceBook,
    Sensitivity,
    plot_sensitivity,
    project_costs,
    sensitivity,
)
from phaseroute.errors import RequestError
from phaseroute.measure import (
    MeasureSettings,
    Progress,
    SilentProgress,
    merge_lock,
    read_mapping,
    replay_tasks,
    run_measurement,
    write_reports,
)
from phaseroute.policy import (
    PhaseDecision,
    RoutingPlan,
    compile_policy,
    load_plan,
    load_policy,
    lock_path,
    write_lock,
)
from phaseroute.policy._schema import ReplayProvider as ReplayConfig
from phaseroute.recorded import RecordedOutcomes, read_recorded
from phaseroute.runtime import Router

POLICY = "replay.yaml"
MAPPING = "standins.yaml"
KEY_NAME = "audit"
OUTPUTS = ("phaseroute.db", "phaseroute.db-wal", "phaseroute.db-shm", "replay.lock.json")


@dataclass(frozen=True)
class PhaseOutcome:
    """What serving one phase's recorded cases through the Router gave."""

    decision: PhaseDecision
    items: int
    served_by: tuple[str, ...]  # catalogue models that answered, most used first
    score: float  # mean recorded score (0..1) of the answers the Router served
    top_score: float  # the top-tier model's mean on the same items
    cost: Decimal
    top_cost: Decimal  # the same calls priced on the top tier
    audited: int
    input_tokens: int = 0  # approximated from the prompt text (replay has no tokenizer)
    output_tokens: int = 0  # from the recorded answers, or the per-answer estimate

    @property
    def quality_ratio(self) -> float:
        return self.score / self.top_score if self.top_score else 1.0


@dataclass(frozen=True)
class DemoResult:
    workdir: Path
    plan: RoutingPlan
    phases: tuple[PhaseOutcome, ...]
    projection: CostProjection
    audit: VerificationReport
    reports: tuple[Path, ...]
    plots: tuple[Path, ...]
    answers_recorded: int = 0  # answers whose text the recorded file holds
    unrecorded_output_tokens: int = 1  # output tokens counted for each other answer

    @property
    def cost(self) -> Decimal:
        return sum((p.cost for p in self.phases), Decimal(0))

    @property
    def top_cost(self) -> Decimal:
        return sum((p.top_cost for p in self.phases), Decimal(0))


def find_example(explicit: Path | None) -> Path:
    """The AML example directory: given, else ./examples/aml, else beside the source tree."""
    candidates = (
        [explicit]
        if explicit is not None
        else [
            Path("examples/aml"),
            Path(__file__).resolve().parents[3] / "examples" / "aml",
        ]
    )
    for c in candidates:
        if (c / POLICY).is_file() and (c / MAPPING).is_file():
            return c
    raise RequestError(
        f"no AML example found (looked for {POLICY} and {MAPPING} in "
        f"{', '.join(str(c) for c in candidates)}) — run from a phaseroute checkout or pass "
        "--example DIR"
    )


def prepare(example: Path, workdir: Path) -> Path:
    """Copy the example into `workdir`, clear earlier demo outputs, write a fresh key pair."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (workdir / name).unlink(missing_ok=True)
    for name in (POLICY, MAPPING):
        shutil.copyfile(example / name, workdir / name)
    loaded = load_policy(workdir / POLICY)
    for provider in loaded.policy.providers.values():
        if isinstance(provider, ReplayConfig):
            target = workdir / provider.outcomes
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(example / provider.outcomes, target)
    generate_key_pair(workdir, KEY_NAME, force=True)
    return workdir / POLICY


def _replay_config(plan: RoutingPlan) -> ReplayConfig:
    replay = [p for p in plan.policy.providers.values() if isinstance(p, ReplayConfig)]
    if len(replay) != 1:
        raise RequestError("the demo policy must have exactly one replay provider")
    return replay[0]


def recorded_outcomes(plan: RoutingPlan) -> RecordedOutcomes:
    return read_recorded(plan.base_dir / _replay_config(plan).outcomes)


def measure(policy: Path, outcomes: RecordedOutcomes, progress: Progress) -> Path:
    """Measure every phase from the recorded outcomes; write the lock and the report."""
    loaded = load_policy(policy)
    plan = compile_policy(loaded)
    mapping = read_mapping(policy.parent / MAPPING)
    tasks, skipped = replay_tasks(loaded, plan, outcomes, list(plan.decisions), mapping)
    if skipped:
        wf, ph, why = skipped[0]
        raise RequestError(f"the demo could not measure {wf}/{ph}: {why}")
    run = run_measurement(tasks, plan, loaded, MeasureSettings(), progress)
    lock = lock_path(policy)
    write_lock(lock, merge_lock(lock, run))
    return write_reports(run, policy.parent, policy.stem)[-1]


def serve(
    policy: Path, plan: RoutingPlan, outcomes: RecordedOutcomes, progress: Progress
) -> tuple[PhaseOutcome, ...]:
    """Run every recorded case of every phase through the Router (audit on)."""
    mapping = read_mapping(policy.parent / MAPPING)
    top_id = plan.top_model().model_id
    results: list[PhaseOutcome] = []
    total = sum(len(outcomes.phases[s]) for subjects in mapping.values() for s in subjects)
    progress.start("serving every recorded case through the Router", total)
    with Router.from_policy(policy) as router:
        for (workflow, phase), subjects in mapping.items():
            decision = plan.decision(workflow, phase)
            served: dict[str, int] = {}
            score = top = 0.0
            cost = top_cost = Decimal(0)
            audited = n = tokens_in = tokens_out = 0
            for subject in subjects:
                for item in outcomes.phases[subject]:
                    result = router.complete(
                        workflow,
                        phase,
                        [{"role": "user", "content": item.prompt}],
                        max_tokens=1,
                        case_id=item.item,
                        metadata={"item": item.item},
                    )
                    n += 1
                    served[result.model] = served.get(result.model, 0) + 1
                    recorded = result.response.recorded_score
                    score += outcomes.normalised(recorded) if recorded is not None else 0.0
                    top += outcomes.normalised(item.scores[top_id])
                    cost += result.cost or Decimal(0)
                    top_cost += result.counterfactual_cost or Decimal(0)
                    audited += result.audit_sequence is not None
                    tokens_in += result.usage.input_tokens
                    tokens_out += result.usage.output_tokens
                progress.advance(len(outcomes.phases[subject]))
            results.append(
                PhaseOutcome(
                    decision=decision,
                    items=n,
                    served_by=tuple(sorted(served, key=served.__getitem__, reverse=True)),
                    score=score / n if n else 0.0,
                    top_score=top / n if n else 0.0,
                    cost=cost,
                    top_cost=top_cost,
                    audited=audited,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                )
            )
    progress.finish()
    return tuple(results)


def verify_audit(policy: Path) -> VerificationReport:
    """Verify the whole chain with the public key alone (as a third party would)."""
    workdir = policy.parent
    trail = AuditTrail.open(workdir / "phaseroute.db")
    try:
        return trail.verify([load_public_key(workdir / f"{KEY_NAME}.pub")])
    finally:
        trail.close()


def run_demo(
    workdir: Path,
    *,
    example: Path | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """The whole demo in `workdir`; see the module docstring."""
    progress = progress or SilentProgress()
    policy = prepare(find_example(example), workdir)
    first = load_plan(policy)
    outcomes = recorded_outcomes(first)
    report = measure(policy, outcomes, progress)
    plan = load_plan(policy)  # now with the measured evidence
    phases = serve(policy, plan, outcomes, progress)
    audit = verify_audit(policy)
    book = PriceBook.from_policy(plan.policy)
    projection = project_costs(plan, book)
    plots: list[Path] = []
    for wf in projection.workflows:
        s = sensitivity(wf)
        if not isinstance(s, Sensitivity):
            continue
        files = plot_sensitivity(
            s,
            workdir,
            top_model=projection.top_model,
            cheapest_model=projection.cheapest_model,
            price_version=projection.price_version,
            policy_hash=plan.policy_hash,
        )
        plots.extend([files.png, files.svg])
    return DemoResult(
        workdir=workdir,
        plan=plan,
        phases=phases,
        projection=projection,
        audit=audit,
        reports=(report, report.with_suffix(".md")),
        plots=tuple(plots),
        answers_recorded=outcomes.answers_recorded,
        unrecorded_output_tokens=_replay_config(first).unrecorded_output_tokens,
    )
