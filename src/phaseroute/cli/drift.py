"""``phaseroute drift``: every shadow-checked phase's live gap, interval, pairs and state."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from phaseroute.cli.policy import PolicyArg
from phaseroute.errors import RequestError


class Format(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def _pts(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f} pt"


def drift(
    policy: PolicyArg,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database (default: the policy's). SQLite path or URL."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Show the production check of each phase routed below the top tier: shadow pairs, the
    live quality gap against the top tier with its anytime-valid interval, and its state."""
    from phaseroute.monitor import MonitorStore, ProductionMonitor, status_json
    from phaseroute.policy import load_plan
    from phaseroute.runtime._providers import database_location
    from phaseroute.storage.database import open_engine

    plan = load_plan(policy)
    if workflow is not None and workflow not in plan.policy.workflows:
        raise RequestError(
            f"--workflow {workflow!r}: not in {policy} (it has: {', '.join(plan.policy.workflows)})"
        )
    store = MonitorStore(open_engine(database_location(plan, db)))
    statuses = [
        s
        for s in ProductionMonitor(plan, store, workers=1).load().status()
        if workflow is None or s.workflow == workflow
    ]
    console = Console(highlight=False)
    if fmt is Format.json:
        console.print_json(status_json(statuses))
        return
    if not statuses:
        console.print(
            "no phase has a production check — add `shadow: {share: 0.02}` to a phase routed "
            "below the top tier (see docs/production.md)"
        )
        return
    table = Table(title=f"production check · policy {plan.policy_hash[:12]}")
    for col in ("phase", "route", "pairs", "gap (recent)", "interval", "margin", "state"):
        table.add_column(
            col, justify="right" if col in ("pairs", "margin") else "left", overflow="fold"
        )
    table.add_column("shadow spend", justify="right", overflow="fold")
    for s in statuses:
        w = s.watch
        interval = "—" if w.lower is None else f"{_pts(w.lower)} to {_pts(w.upper)}"
        state = w.state.value + (" → reverted to top tier" if s.reverted else "")
        style = {"drifted": "bold red", "holding": "green"}.get(w.state.value, "yellow")
        table.add_row(
            f"{s.workflow}/\n{s.phase}",
            f"{s.routed_model}\n(vs {s.top_model})",
            str(w.pairs),
            _pts(w.gap),
            interval,
            f"{100 * w.margin:.1f} pt",
            f"[{style}]{state}[/]",
            f"${s.shadow_cost:,.4f}",
        )
    console.print(table)
    if any(s.watch.state.value == "drifted" for s in statuses):
        console.print(
            f"re-measure the drifted phases on fresh labelled cases: phaseroute measure "
            f"{policy} --data DIR (writes the lock file beside the policy, for review)"
        )


def drift_demo(workdir: Path, example: Path | None) -> None:
    """`phaseroute demo --scenario drift`: run the production loop offline and show it."""
    from phaseroute.demo import run_drift_demo

    console = Console(highlight=False)
    console.print(
        "[bold]phaseroute demo --scenario drift[/] — intake screening is routed to the cheaper "
        "model and checked in production: a tenth of its calls is also answered by the top "
        "tier, off the caller's path. From call 2,000 on, the cheaper model's recorded answers "
        "are degraded (half of its right answers turned wrong: a simulated drift).\n"
    )
    r = run_drift_demo(workdir, example=example)
    w = r.status.watch
    if w.alarm_at is None:
        console.print(f"[red]no alarm after {r.calls:,} calls[/]")
        raise typer.Exit(code=1)
    console.print(
        f"• {r.calls:,} calls served; {r.status.shadow_calls:,} shadow calls on the top tier "
        f"(${r.status.shadow_cost:,.4f}, booked apart from routed traffic)."
    )
    console.print(
        f"• [bold red]alarm[/] at shadow pair {w.alarm_at:,}: the sequential test rejected "
        f"'gap <= {100 * w.margin:.1f} pt'; recent gap {_pts(w.gap)} "
        f"(90% interval {_pts(w.lower)} to {_pts(w.upper)})."
    )
    console.print(
        f"• [bold]reverted[/]: from call {r.first_top_tier_call:,} on the phase is served by "
        f"the top tier; the revert is audit record #{r.audit_sequence} with its evidence."
    )
    console.print(
        f"• dashboard page: {r.dashboard}\n"
        f"Next: `phaseroute drift {r.workdir / 'phaseroute.yaml'}`."
    )
