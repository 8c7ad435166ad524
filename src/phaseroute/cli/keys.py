"""``phaseroute keys``: issue, list and revoke the gateway's API keys.

Keys live in the policy's database (``database:``, or ``--db``), so every gateway replica
serving that policy sees them; a revocation reaches every replica within a few seconds.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from phaseroute.cli._tables import JsonOpt, report_console
from phaseroute.errors import RequestError

if TYPE_CHECKING:
    from phaseroute.gateway._keys import ApiKey, KeyStore

PolicyArg = Annotated[
    Path, typer.Argument(help="The policy the gateway serves (its database holds the keys).")
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file path or postgresql:// URL (default: the policy's database).",
        metavar="LOCATION",
    ),
]


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="keys",
        help="The gateway's API keys: create (shown once), list, revoke.",
        no_args_is_help=True,
    )
    sub.command("create")(create)
    sub.command("list")(list_keys)
    sub.command("revoke")(revoke)
    app.add_typer(sub)


def _open(policy: Path, db: str | None) -> tuple[KeyStore, frozenset[str]]:
    """The key store of the policy's database, and the policy's workflow names."""
    from phaseroute.gateway._keys import KeyStore
    from phaseroute.policy import load_plan
    from phaseroute.runtime._providers import database_location

    plan = load_plan(policy)
    return KeyStore.open(database_location(plan, db)), frozenset(plan.policy.workflows)


def _usd(option: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.strip().removeprefix("$"))
    except InvalidOperation:
        raise RequestError(
            f"{option} {value!r}: not an amount — give USD such as 25 or 2.50"
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise RequestError(f"{option} {value}: a budget is a positive amount of USD")
    return amount


def _row(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "workflows": None if key.workflows is None else sorted(key.workflows),
        "daily_usd": None if key.daily_usd is None else str(key.daily_usd),
        "monthly_usd": None if key.monthly_usd is None else str(key.monthly_usd),
        "created_at": key.created_at.isoformat(),
        "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
    }


def create(
    policy: PolicyArg,
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    workflow: Annotated[
        list[str] | None,
        typer.Option("--workflow", help="A workflow the key may use; repeat. Default: all."),
    ] = None,
    daily_usd: Annotated[
        str | None, typer.Option("--daily-usd", help="The key's budget per UTC day, in USD.")
    ] = None,
    monthly_usd: Annotated[
        str | None, typer.Option("--monthly-usd", help="The key's budget per UTC month, in USD.")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a key. It is printed once and stored only as its SHA-256."""
    daily, monthly = _usd("--daily-usd", daily_usd), _usd("--monthly-usd", monthly_usd)
    store, workflows = _open(policy, db)
    try:
        unknown = sorted(set(workflow or ()) - workflows)
        if unknown:
            raise RequestError(
                f"--workflow {', '.join(unknown)}: not a workflow of {policy} — "
                f"use one of: {', '.join(sorted(workflows))}"
            )
        issued = store.create(name, workflows=workflow, daily_usd=daily, monthly_usd=monthly)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({**_row(issued.key), "key": issued.secret}, indent=2))
        return
    console = report_console()
    console.print(f"key:     {issued.secret}")
    console.print(f"key id:  {issued.key.key_id} (public: safe to log, used to revoke)")
    console.print(
        "This is the only time the key is shown: store it now (only its SHA-256 is kept)."
    )


def list_keys(
    policy: PolicyArg,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The keys: id, name, workflows and budgets (never the secrets)."""
    store, _ = _open(policy, db)
    try:
        keys = store.list(include_revoked=include_revoked)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([_row(k) for k in keys], indent=2))
        return
    console = report_console()
    if not keys:
        console.print("no keys — create one with `phaseroute keys create POLICY --name NAME`")
        return
    table = Table("key id", "name", "workflows", "daily USD", "monthly USD", "created", "state")
    for k in keys:
        table.add_row(
            k.key_id,
            escape(k.name),
            "all" if k.workflows is None else ", ".join(sorted(k.workflows)),
            "-" if k.daily_usd is None else str(k.daily_usd),
            "-" if k.monthly_usd is None else str(k.monthly_usd),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            "active" if k.revoked_at is None else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def revoke(
    policy: PolicyArg,
    key_id: Annotated[str, typer.Argument(help="The key id `keys list` shows.")],
    db: DbOpt = None,
) -> None:
    """Revoke a key: every gateway replica refuses it within a few seconds."""
    store, _ = _open(policy, db)
    try:
        key = store.revoke(key_id)
    finally:
        store.close()
    assert key.revoked_at is not None
    report_console().print(
        f"revoked {key.key_id} ({escape(key.name)}) at {key.revoked_at:%Y-%m-%dT%H:%M:%SZ}; "
        "running gateways refuse it within their key refresh interval (2 s by default)"
    )
