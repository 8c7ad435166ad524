"""``phaseroute demo``: the whole idea in one offline command, on recorded model outcomes."""

from __future__ import annotations

import time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

if TYPE_CHECKING:
    from phaseroute.demo import DemoResult


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


class Scenario(StrEnum):
    aml = "aml"
    drift = "drift"


class _Bars:
    """The demo's stages as Rich progress bars (the harness's Progress protocol)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, label: str, total: int) -> None:
        self.task = self.progress.add_task(label, total=total)

    def advance(self, steps: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, steps)

    def finish(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None


def demo(
    workdir: Annotated[
        Path, typer.Option(help="Where the demo writes its database, lock, keys and report.")
    ] = Path("phaseroute-demo"),
    example: Annotated[
        Path | None, typer.Option(help="The example directory (default: examples/<scenario>).")
    ] = None,
    scenario: Annotated[
        Scenario,
        typer.Option(
            help="aml: measure, route, serve, audit and cost the AML example. drift: the "
            "production loop — shadow calls, a simulated drift, the alarm and the revert."
        ),
    ] = Scenario.aml,
) -> None:
    """Measure, route, serve, audit and cost the AML example offline — no API key needed."""
    if scenario is Scenario.drift:
        from phaseroute.cli.drift import drift_demo

        drift_demo(workdir / "drift", example)
        return
    from phaseroute.demo import find_example, run_demo

    example = find_example(example)  # a clear error before anything is printed
    console = Console(highlight=False)
    console.print(
        "[bold]phaseroute demo[/] — AML alert review, offline. Recorded answers of real models "
        "(MMLU questions answered by gpt-4-1106-preview and Mixtral-8x7B) stand in for the AML "
        "phases; see examples/aml/README.md.\n"
    )
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bars:
        result = run_demo(workdir, example=example, progress=_Bars(bars))
    render(console, result, time.perf_counter() - started)


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:,.4f}"


def render(console: Console, r: DemoResult, elapsed: float) -> None:
    routes = Table(title="1. The route of each phase")
    routes.add_column("phase", overflow="fold")
    for col in ("route", "basis", "rule"):
        routes.add_column(col)
    for p in r.phases:
        d = p.decision
        routes.add_row(
            d.phase + (" (audit)" if d.audit else ""),
            f"{d.model.name} ({d.tier})",
            d.basis.value,
            d.rule + (" ⚠" if d.warnings else ""),
        )
    console.print(routes)
    console.print("[bold]Why[/] (the decisive reason; `phaseroute explain` shows them all):")
    for p in r.phases:
        d = p.decision
        why = d.reasons[-1] if d.basis.value == "measured" else d.reasons[0]
        console.print(f"• [bold]{d.phase}[/]: {escape(why)}")
        for warning in d.warnings:
            console.print(f"  [yellow]⚠ {escape(warning)}[/]")
    console.print()

    served = Table(title="2. Every recorded case served through the Router")
    served.add_column("phase", overflow="fold")
    for col in ("cases", "score", "top", "ratio", "cost", "top cost"):
        served.add_column(col, justify="right")
    for p in r.phases:
        served.add_row(
            p.decision.phase,
            f"{p.items:,}",
            f"{100 * p.score:.1f}%",
            f"{100 * p.top_score:.1f}%",
            f"{100 * p.quality_ratio:.1f}%",
            _usd(p.cost),
            _usd(p.top_cost),
        )
    items = sum(p.items for p in r.phases)
    score = sum(p.score * p.items for p in r.phases) / items
    top = sum(p.top_score * p.items for p in r.phases) / items
    saving = 1 - r.cost / r.top_cost if r.top_cost else Decimal(0)
    served.add_row(
        "[bold]all[/]",
        f"{items:,}",
        f"{100 * score:.1f}%",
        f"{100 * top:.1f}%",
        f"{100 * score / top:.1f}%",
        _usd(r.cost),
        _usd(r.top_cost),
    )
    console.print(served)
    console.print(
        f"On these cases the routed plan cost {_usd(r.cost)} against {_usd(r.top_cost)} for "
        f"uniform top-tier use: a saving of [bold]{100 * saving:.1f}%[/], at "
        f"{100 * score / top:.1f}% of the top tier's score.\n"
    )

    proj = r.projection
    daily, monthly = proj.daily, proj.monthly
    proj_saving = 1 - daily.routed / daily.uniform_top if daily.uniform_top else Decimal(0)
    console.print(
        f"[bold]3. Projected at the policy's daily volumes[/] ({proj.price_version}): "
        f"uniform {proj.top_model} {_usd(daily.uniform_top)}/day "
        f"({_usd(monthly.uniform_top)}/month); routed {_usd(daily.routed)}/day "
        f"({_usd(monthly.routed)}/month): [bold]{100 * proj_saving:.1f}% saved[/]."
    )
    a = r.audit
    verdict = (
        "[green]intact[/]"
        if a.ok
        else f"[red]FAILED[/] at seq {a.first_bad.seq if a.first_bad else '?'}"
    )
    audited = sum(p.audited for p in r.phases)
    console.print(
        f"[bold]4. Audit trail[/]: {audited:,} calls of recorded phases appended before their "
        f"answers were returned; {a.records:,} records, {a.checkpoints} signed checkpoints; "
        f"verified with the public key alone: {verdict}."
    )
    console.print(
        f"[bold]5. Written to {r.workdir}[/]: measurement report {r.reports[0]} "
        f"(Markdown: {r.reports[1]}); cost plots {', '.join(str(p) for p in r.plots)}; "
        f"lock, database and keys beside them.\n"
        f"Done in {elapsed:.1f} s. Next: `phaseroute explain {r.workdir / 'replay.yaml'}`, "
        f"`phaseroute audit verify --db {r.workdir / 'phaseroute.db'} --public-key "
        f"{r.workdir / 'audit.pub'}`."
    )
    if not a.ok:
        raise typer.Exit(code=1)
