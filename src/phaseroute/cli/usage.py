"""``phaseroute usage``: tokens and cost per workflow and phase, from the usage ledger."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from phaseroute.errors import RequestError
from phaseroute.storage.database import DEFAULT_DATABASE

if TYPE_CHECKING:
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
        raise RequestError(
            f"--since {value!r}: not a time — use a relative age like 7d, 12h, 30m or an "
            "ISO date such as 2025-01-31 or 2025-01-31T09:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)


def _money(value: object) -> str:
    return f"${value:,.4f}"


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
    finally:
        ledger.close()
    console = Console(highlight=False)
    if fmt is Format.json:
        console.print_json(json.dumps({"phases": [_doc(r) for r in rows],
                                       "workflows": [_doc(r) for r in workflows]}))  # fmt: skip
        return
    if not rows:
        console.print("no routed calls recorded" + (" in that window" if since else ""))
        return
    table = Table(title="usage per phase")
    for col in (
        "workflow", "phase", "calls", "escalated", "failed", "tokens in", "tokens out", "cached",
        "batch",
    ):  # fmt: skip
        table.add_column(col, justify="right" if col not in ("workflow", "phase") else "left")
    for col in ("cost", "top-tier cost", "saving"):
        table.add_column(col, justify="right")
    for r in [*rows, *workflows]:
        table.add_row(
            r.workflow,
            r.phase or "[b]all phases[/]",
            str(r.calls),
            str(r.escalated),
            str(r.unavailable + r.incomplete),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            _share(r.cached_share),
            str(r.batch_calls),
            _money(r.cost) + (f" (+{r.unpriced} unpriced)" if r.unpriced else ""),
            _money(r.counterfactual_cost),
            _money(r.saving),
        )
    console.print(table)


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
