"""``phaseroute audit show`` and ``stats``: reading the trail — one case's records, and what
the trail holds (chain, checkpoints, coverage, cost, latency)."""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.markup import escape

from phaseroute.audit import records_for_case, stats
from phaseroute.cli._tables import (
    Column,
    JsonOpt,
    emit_json,
    new_table,
    print_table,
    report_console,
)
from phaseroute.cli.audit import DbOpt, _open
from phaseroute.errors import RequestError
from phaseroute.storage.database import DEFAULT_DATABASE


def show(
    case: Annotated[str, typer.Option("--case", help="Case or correlation id.")],
    db: DbOpt = DEFAULT_DATABASE,
    with_content: Annotated[
        bool, typer.Option("--content/--no-content", help="Print request and response text.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Print every audit record of one case, in chain order. This reads; run `audit verify`
    to know the records are intact."""
    store = _open(db)
    try:
        records = records_for_case(store, case)
    finally:
        store.dispose()
    if not records:
        raise RequestError(f"no audit records for case {case!r} in {db}")
    console = report_console()
    if as_json:
        docs: list[dict[str, Any]] = []
        for r in records:
            doc: dict[str, Any] = {
                "seq": r.seq,
                "hash": r.hash,
                "prev_hash": r.prev_hash,
                "record": dict(r.fields),
                "content": r.content,
            }
            if with_content:
                doc["request"], doc["response"] = r.request, r.response
            docs.append(doc)
        emit_json(docs)
        return
    for r in records:
        f = r.fields
        console.rule(f"seq {r.seq} · {escape(str(f.get('recorded_at')))}")
        served = f.get("model_reported")
        model = str(f.get("model_requested"))
        if served and served != model:
            model += f" → {served}"
        console.print(
            f"{escape(str(f.get('workflow')))}/{escape(str(f.get('phase')))}  tier "
            f"{escape(str(f.get('tier')))} ({escape(str(f.get('rule')))}, "
            f"{escape(str(f.get('basis')))})  model {escape(model)}  "
            f"cost {escape(money(f.get('cost')))}"
        )
        facts = [f"latency {duration(f.get('latency_s'))}"]
        for label, key in (
            ("stop", "stop_reason"),
            ("request id", "request_id"),
            ("reviewer", "reviewer"),
        ):
            if f.get(key) not in (None, ""):
                facts.append(f"{label} {f.get(key)}")
        if f.get("stream_complete") is False:
            facts.append("stream incomplete")
        if f.get("degraded"):
            facts.append("degraded")
        console.print(escape(", ".join(facts)))
        console.print(f"hash {r.hash}  content {r.content}")
        if with_content and r.content == "stored":
            console.print(f"[bold]request[/]: {escape(json.dumps(r.request, ensure_ascii=False))}")
            console.print(f"[bold]response[/]: {escape(r.response or '')}")


def duration(seconds: object) -> str:
    """A latency a person can read: ``0.20 ms``, ``183 ms``, ``2.41 s``; ``-`` if unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def money(value: object) -> str:
    """A recorded cost in US dollars (``0.00289 USD``); ``unpriced`` when none was recorded."""
    if value in (None, ""):
        return "unpriced"
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return f"{value} (USD)"
    return f"{amount:,.6f}".rstrip("0").rstrip(".") + " USD"


def stats_command(db: DbOpt = DEFAULT_DATABASE, as_json: JsonOpt = False) -> None:
    """Summarise the trail: records, checkpoint coverage, erasures, by phase and by model."""
    store = _open(db)
    try:
        s = stats(store)
    finally:
        store.dispose()
    console = report_console()
    if as_json:
        doc = asdict(s)
        doc["total_cost"] = str(s.total_cost)
        doc["uncovered"] = s.uncovered
        emit_json(doc)
        return
    console.print(
        f"chain {s.chain_id} (created {s.created_at}): {s.records} record(s), head seq "
        f"{s.head_seq}; {s.checkpoints} checkpoint(s), last at seq {s.last_checkpoint_seq} "
        f"({s.last_checkpoint_at or 'never'}); {s.uncovered} not yet signed"
    )
    console.print(
        f"recorded {s.first_recorded_at or '-'} … {s.last_recorded_at or '-'}; content "
        f"erased {s.erased}, redacted {s.redacted}; degraded {s.degraded}; "
        f"cost {money(s.total_cost)}"
    )
    t = new_table(
        "records by phase",
        [
            Column("workflow", kind="name"),
            Column("phase", kind="name"),
            Column("records", justify="right", kind="number"),
        ],
    )
    for p in s.by_phase:
        t.add_row(escape(str(p.workflow)), escape(str(p.phase)), f"{p.records:,}")
    print_table(console, t)
    m = new_table(
        "records by model (requested → reported)",
        [
            Column("requested", kind="name"),
            Column("reported", kind="name"),
            Column("records", justify="right", kind="number"),
        ],
    )
    for x in s.by_model:
        m.add_row(
            escape(str(x.model_requested)),
            escape(str(x.model_reported)),
            f"{x.records:,}",
        )
    print_table(console, m)
