"""``phaseroute usage``: tokens and cost per workflow and phase, from the usage ledger."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from phaseroute.cli._tables import Column, emit_json, new_table, print_table
from phaseroute.errors import CommandLineError, RequestError
from phaseroute.storage.database import DEFAULT_DATABASE

if TYPE_CHECKING:
    from decimal import Decimal

    from phaseroute.runtime import UsageTotals


class Format(StrEnum):
    table = "table"
    json = "json"


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m`` (ago), or an ISO-8601 date/time (UTC unless it says)."""
    found = _RELATIVE.match(value.strip())
    if found:
        delta = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        return (now or datetime.now(tz=UTC)) - delta
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandLineError(
            f"--since {value!r}: not a time — use a relative age like 7d, 12h, 30m or an "
            "ISO date such as 2025-01-31 or 2025-01-31T09:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)


def _money(value: object) -> str:
    return f"${value:,.4f}"


def _saving(value: Decimal) -> str:
    """A saving, or what the routed calls cost more — never a negative "saving"."""
    if value < 0:
        return f"[red]{_money(-value)} more[/]"
    return _money(value)


def usage(
    db: Annotated[
        str,
        typer.Option(
            "--db", help="Database: a SQLite file path or a postgresql:// URL.", show_default=True
        ),
    ] = DEFAULT_DATABASE,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    phase: Annotated[str | None, typer.Option(help="Only this phase.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only calls since: 7d, 12h, or an ISO date/time.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Tokens and cost per workflow and phase, against uniform use of the top tier."""
    start = parse_since(since) if since else None
    if "://" not in db:
        from pathlib import Path

        if not Path(db).exists():
            raise RequestError(f"--db {db}: no such database file — run some routed calls first")
    from phaseroute.runtime import UsageLedger

    ledger = UsageLedger.open(db)
    try:
        rows = ledger.totals(workflow=workflow, phase=phase, since=start)
        workflows = ledger.totals(workflow=workflow, phase=phase, since=start, by_phase=False)
        if not rows and (workflow or phase):
            _unknown_names(ledger.totals(), db, workflow, phase)
    finally:
        ledger.close()
    if fmt is Format.json:
        emit_json({"phases": [_doc(r) for r in rows], "workflows": [_doc(r) for r in workflows]})
        return
    console = Console(highlight=False)
    if not rows:
        console.print("no routed calls recorded" + (" in that window" if since else ""))
        return
    table = new_table(
        "usage per phase (tokens in → out; cost against the same calls on the top tier)",
        [
            Column("workflow / phase", kind="name"),
            Column("calls", justify="right", kind="number"),
            Column("escal-\nated", justify="right", kind="number"),
            Column("failed", justify="right", kind="number"),
            Column("tokens\nin → out", justify="right", kind="number"),  # + cached share
            Column("cost", justify="right", kind="number"),
            Column("top-tier\ncost", justify="right", kind="number"),
            Column("saving", justify="right", kind="number"),
        ],
    )
    single = len({r.workflow for r in rows}) == 1
    for r in [*rows, *workflows]:
        if r.phase is None:
            name = f"{r.workflow}\n[b]all phases[/]"
        else:
            name = r.phase if single else f"{r.workflow}/{r.phase}"
        table.add_row(
            name,
            f"{r.calls:,}" + (f"\n{r.batch_calls:,} batch" if r.batch_calls else ""),
            f"{r.escalated:,}",
            f"{r.unavailable + r.incomplete:,}",
            f"{r.input_tokens:,}\n→ {r.output_tokens:,}"
            + (f"\n{_share(r.cached_share)} cached" if r.cached_share else ""),
            _money(r.cost) + (f"\n+{r.unpriced} unpriced" if r.unpriced else ""),
            _money(r.counterfactual_cost),
            _saving(r.saving),
        )
    if single:
        console.print(f"workflow [b]{rows[0].workflow}[/]")
    print_table(console, table)


def _unknown_names(
    everything: list[UsageTotals], db: str, workflow: str | None, phase: str | None
) -> None:
    """Raise `RequestError` naming a workflow or phase the ledger has never seen."""
    known_workflows = sorted({r.workflow for r in everything})
    if workflow is not None and workflow not in known_workflows:
        raise RequestError(
            f"--workflow {workflow!r}: no routed call of this workflow in {db} "
            f"(workflows recorded: {', '.join(known_workflows) or 'none'})"
        )
    known_phases = sorted(
        {r.phase for r in everything if r.phase and workflow in (None, r.workflow)}
    )
    if phase is not None and phase not in known_phases:
        raise RequestError(
            f"--phase {phase!r}: no routed call of this phase in {db} "
            f"(phases recorded: {', '.join(known_phases) or 'none'})"
        )


def _share(value: float | None) -> str:
    """The share of input read from the prompt cache (cache reads ÷ all input tokens)."""
    return "—" if value is None else f"{value:.0%}"


def _doc(r: UsageTotals) -> dict[str, object]:
    return {
        "workflow": r.workflow,
        "phase": r.phase,
        "calls": r.calls,
        "served": r.served,
        "escalated": r.escalated,
        "incomplete": r.incomplete,
        "unavailable": r.unavailable,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cache_read_tokens": r.cache_read_tokens,
        "cache_write_tokens": r.cache_write_tokens,
        "cached_share": None if r.cached_share is None else round(r.cached_share, 4),
        "batch_calls": r.batch_calls,
        "cost": str(r.cost),
        "unpriced_calls": r.unpriced,
        "counterfactual_cost": str(r.counterfactual_cost),
        "saving": str(r.saving),
        "first": r.first,
        "last": r.last,
    }
