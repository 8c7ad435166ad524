"""``phaseroute measure``: decide each phase's route from evidence, and write the lock file.

Also ``phaseroute replay-policy``: write a policy that measures every subject of a
recorded-outcome file as a phase (the offline demo and the MMLU check).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from phaseroute.cli._tables import Column, new_table, print_table
from phaseroute.errors import CommandLineError, RequestError

if TYPE_CHECKING:
    from phaseroute.measure import MeasurementRun, MeasureSettings, PhaseTask
    from phaseroute.policy import LoadedPolicy, RoutingPlan

MODEL_WIDTH = 14  # model names fold at their dashes beyond this

PolicyArg = Annotated[Path, typer.Argument(help="The policy YAML file.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("measure")(measure)
    app.command("replay-policy")(replay_policy)


class RichProgress:
    """The harness's progress as two Rich bars: phases done, and items of the current phase."""

    def __init__(self, progress: Progress, phases: int) -> None:
        self.progress = progress
        self.overall: TaskID = progress.add_task("phases", total=phases)
        self.current: TaskID | None = None

    def start(self, label: str, total: int) -> None:
        self.current = self.progress.add_task(label, total=total)

    def advance(self, steps: int) -> None:
        if self.current is not None:
            self.progress.advance(self.current, steps)

    def finish(self) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        self.progress.advance(self.overall)


def measure(
    policy: PolicyArg,
    data: Annotated[
        Path | None,
        typer.Option(help="Labelled datasets: DIR/<workflow>/<phase>.jsonl (live calls)."),
    ] = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Recorded-outcome JSONL (.jsonl or .jsonl.gz) to replay: no model calls."
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--map", help="Replay mapping (YAML or JSON): workflow -> phase -> recorded subjects."
        ),
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    phase: Annotated[str | None, typer.Option(help="Only this phase.")] = None,
    alpha: Annotated[
        float, typer.Option(min=0.001, max=0.25, help="Error rate of routing cheap wrongly.")
    ] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the item order.")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="Items per sequential look.")] = 20,
    report_dir: Annotated[
        Path | None, typer.Option(help="Where to write the report (default: beside the policy).")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="Response-cache database (default: the policy's, else beside it)."),
    ] = None,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Live calls of each look as one batch per model (batch prices; can take hours).",
        ),
    ] = False,
) -> None:
    """Measure whether cheaper models hold each phase's quality; write the lock and a report."""
    from phaseroute.measure import (
        MeasureSettings,
        merge_lock,
        read_mapping,
        replay_tasks,
        select_phases,
        write_reports,
    )
    from phaseroute.policy import compile_policy, load_policy, lock_path, write_lock
    from phaseroute.policy._lock import PerItemLock
    from phaseroute.policy._per_item_lock import describe_per_item
    from phaseroute.recorded import read_recorded

    if (data is None) == (outcomes is None):
        raise CommandLineError("give exactly one of --data DIR (live) or --outcomes FILE (replay)")
    if mapping is not None and outcomes is None:
        raise CommandLineError("--map applies to --outcomes (replay) only")
    loaded = load_policy(policy)
    plan = compile_policy(loaded)
    keys = select_phases(plan, workflow, phase)
    settings = MeasureSettings(alpha=alpha, seed=seed, batch_size=batch_size)
    console = Console(highlight=False)
    started = datetime.now(UTC)
    if outcomes is not None:
        recorded = read_recorded(outcomes)
        tasks, skipped = replay_tasks(
            loaded, plan, recorded, keys, read_mapping(mapping) if mapping else None
        )
        run = _run(tasks, skipped, plan, loaded, settings, console)
        calls = "no model calls (replay)"
    else:
        run, calls = _live(policy, loaded, plan, keys, data, database, settings, console, batch)
    if not run.results:
        why = "; ".join(f"{wf}/{ph}: {reason}" for wf, ph, reason in run.skipped)
        raise RequestError(f"nothing was measured — {why}")
    if (workflow or phase) and run.skipped:
        wf, ph, why = run.skipped[0]
        raise RequestError(f"{wf}/{ph} was not measured: {why}")
    lock_file = lock_path(policy)
    lock = merge_lock(lock_file, run, started)
    certified: list[tuple[str, str, PerItemLock]] = []
    uncertified: list[str] = []
    if outcomes is not None:
        from phaseroute.measure._per_item import add_per_item

        lock, certified, uncertified = add_per_item(lock, tasks, loaded, seed=seed, when=started)
    write_lock(lock_file, lock)
    reports = write_reports(run, report_dir or policy.resolve().parent, policy.stem)
    print_table(console, summary_table(run))
    for wf, ph, why in run.skipped:
        console.print(f"[yellow]not measured[/] {wf}/{ph}: {why}")
    for wf, ph, entry in certified:
        console.print(f"per-item {wf}/{ph}: {escape(describe_per_item(entry, wf))}")
    for note in uncertified:
        console.print(f"[yellow]per-item not certified[/] {escape(note)}")
    elapsed = (datetime.now(UTC) - started).total_seconds()
    console.print(
        f"lock: {lock_file}\nreport: {', '.join(str(p) for p in reports)}\n"
        f"{len(run.results)} phase(s) in {elapsed:.1f} s; {calls}"
    )


def _run(
    tasks: Sequence[PhaseTask],
    skipped: Sequence[tuple[str, str, str]],
    plan: RoutingPlan,
    loaded: LoadedPolicy,
    settings: MeasureSettings,
    console: Console,
) -> MeasurementRun:
    from phaseroute.measure import run_measurement

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bars:
        progress = RichProgress(bars, len(tasks))
        return run_measurement(tasks, plan, loaded, settings, progress, skipped)


def _live(
    policy: Path,
    loaded: LoadedPolicy,
    plan: RoutingPlan,
    keys: Sequence[tuple[str, str]],
    data: Path | None,
    database: str | None,
    settings: MeasureSettings,
    console: Console,
    batch: bool = False,
) -> tuple[MeasurementRun, str]:
    from phaseroute.measure import (
        BatchRouterCaller,
        CachedCaller,
        ResponseCache,
        RouterCaller,
        cache_location,
        live_tasks,
    )
    from phaseroute.runtime import Router
    from phaseroute.storage.database import open_engine

    engine = open_engine(cache_location(plan, database))
    try:
        with Router.from_policy(policy, database=database) as router:
            inner = BatchRouterCaller(router) if batch else RouterCaller(router)
            caller = CachedCaller(inner, ResponseCache(engine))
            tasks, skipped = live_tasks(
                loaded, plan, caller, keys, data, max_tokens=settings.max_tokens
            )
            run = _run(tasks, skipped, plan, loaded, settings, console)
    finally:
        engine.dispose()
    return run, f"{caller.misses} model call(s), {caller.hits} answered from the cache"


def summary_table(run: MeasurementRun) -> Table:
    """One row per measured phase: the decision and the numbers it rests on."""
    workflows = {r.workflow for r in run.results}
    title = f"Measurement — {next(iter(workflows))}" if len(workflows) == 1 else "Measurement"
    names = [r.phase if len(workflows) == 1 else f"{r.workflow}/{r.phase}" for r in run.results]
    t = new_table(
        title,
        [
            Column("phase", kind="name"),
            Column("model", kind="name", fold=MODEL_WIDTH),
            Column("outcome"),
            Column("n", justify="right", kind="number"),
            Column("gap, pts (95% CI)"),
            Column("margin", justify="right", kind="number"),
            Column("needs", justify="right", kind="number"),
        ],
    )
    styles = {
        "non_inferior": "green",
        "inferior": "red",
        "inconclusive": "white",
        "suspicious": "bold yellow",
    }
    for r, name in zip(run.results, names, strict=True):
        e = r.entry
        last = e.comparisons[-1] if e.comparisons else None
        gap = (
            f"{100 * last.gap.estimate:+.1f} [{100 * last.gap.lower:+.1f}, "
            f"{100 * last.gap.upper:+.1f}]"
            if last
            else ""
        )
        needs = str(last.items_needed) if last and last.items_needed else ""
        t.add_row(
            name,
            e.chosen,
            f"[{styles[e.outcome]}]{e.outcome.replace('_', '-')}[/]",
            str(last.n) if last else "0",
            gap,
            f"{100 * e.margin:g}",
            needs,
        )
    return t


def replay_policy(
    outcomes: Annotated[
        Path,
        typer.Argument(
            help="A recorded-outcome JSONL file (.jsonl or .jsonl.gz).", show_default=False
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the policy.")],
    margin: Annotated[
        float, typer.Option(min=0.0001, max=1.0, help="Non-inferiority margin (0..1).")
    ] = 0.02,
    workflow: Annotated[
        str | None, typer.Option(help="Workflow name (default: the file's stem).")
    ] = None,
) -> None:
    """Write a policy with one phase per recorded subject, ready for `measure --outcomes`."""
    from phaseroute._jsonl import jsonl_stem
    from phaseroute.measure import phase_name, replay_policy_yaml
    from phaseroute.policy import load_policy
    from phaseroute.policy._lock import relative_to
    from phaseroute.recorded import read_recorded

    recorded = read_recorded(outcomes)
    output.parent.mkdir(parents=True, exist_ok=True)
    ref = relative_to(outcomes, output.resolve().parent)
    if ref.startswith("../"):
        ref = outcomes.resolve().as_posix()
    text = replay_policy_yaml(
        recorded, ref, workflow=workflow or phase_name(jsonl_stem(outcomes)), margin=margin
    )
    output.write_text(text, encoding="utf-8")
    load_policy(output)  # what we wrote must load
    Console(highlight=False).print(
        f"{output}: {len(recorded.phases)} phase(s), models "
        f"{', '.join(recorded.models)}; now run: phaseroute measure {output} --outcomes {outcomes}"
    )
