"""``phaseroute batch submit|status|collect FILE``: a batch-tolerant phase's requests through
the providers' batch APIs, at batch prices.

FILE is JSONL, one request per line: ``{"custom_id": "...", "messages": [...], ...}`` with
the keyword arguments of `Router.complete`. `submit` writes the batch's handle beside it
(``FILE.batch.json``); `status` and `collect` read that handle; `collect` writes one result
line per request to ``FILE.results.jsonl`` (or --out).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from phaseroute.errors import RequestError


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="batch",
        help="Run a batch-tolerant phase through the providers' batch APIs (batch prices).",
        no_args_is_help=True,
    )
    sub.command("submit")(submit)
    sub.command("status")(status)
    sub.command("collect")(collect)
    app.add_typer(sub)


def _handle_path(file: Path) -> Path:
    return file.with_name(file.name + ".batch.json")


def _state(file: Path) -> dict[str, Any]:
    path = _handle_path(file)
    if not path.exists():
        raise RequestError(
            f"{path}: no batch was submitted for {file} — "
            f"run `phaseroute batch submit {file}` first"
        )
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "policy" not in data or "handle" not in data:
        raise RequestError(f"{path}: not a batch handle file — submit the batch again")
    return data


def _router(policy: str, db: str | None) -> Any:
    from phaseroute.runtime import Router

    return Router.from_policy(policy, database=db)


PolicyOpt = Annotated[Path, typer.Option("--policy", help="The policy YAML file.")]
FileArg = Annotated[Path, typer.Argument(help="JSONL requests, one per line.", show_default=False)]


def submit(
    file: FileArg,
    policy: PolicyOpt,
    workflow: Annotated[str, typer.Option(help="The workflow.")],
    phase: Annotated[str, typer.Option(help="The phase (it must declare `batch: true`).")],
    db: Annotated[str | None, typer.Option("--db", help="Usage/audit database.")] = None,
) -> None:
    """Submit FILE's requests as one batch; the handle goes to FILE.batch.json."""
    from phaseroute.runtime._batches import read_requests

    if not file.exists():
        raise RequestError(f"{file}: no such file — a JSONL file with one request per line")
    requests = read_requests(str(file))
    router = _router(str(policy), db)
    try:
        handle = router.submit_batch(workflow, phase, requests)
    finally:
        router.close()
    state = {"policy": str(policy.resolve()), "db": db, "handle": handle.to_json()}
    _handle_path(file).write_text(json.dumps(state, indent=2))
    Console(highlight=False).print(
        f"submitted batch {escape(handle.id)}: {len(requests)} request(s) of "
        f"{escape(workflow)}/{escape(phase)} to {escape(handle.model)} "
        f"(handle: {escape(str(_handle_path(file)))})"
    )


def status(file: FileArg) -> None:
    """Where FILE's batch is."""
    from phaseroute.runtime import BatchHandle

    state = _state(file)
    handle = BatchHandle.from_json(state["handle"])
    router = _router(state["policy"], state.get("db"))
    try:
        current = router.batch_status(handle)
    finally:
        router.close()
    counts = ", ".join(f"{k} {v}" for k, v in current.counts.items())
    Console(highlight=False).print(
        f"batch {escape(handle.id)}: {current.state} ({escape(counts)})"
        + ("" if current.done else " — collect it once it has ended")
    )


def collect(
    file: FileArg,
    out: Annotated[Path | None, typer.Option(help="Where to write the results.")] = None,
    retry: Annotated[
        bool, typer.Option(help="Re-run retryable failures and expiries as ordinary calls.")
    ] = True,
) -> None:
    """Collect FILE's finished batch: one result line per request, priced and recorded."""
    from phaseroute.runtime import BatchHandle

    state = _state(file)
    handle = BatchHandle.from_json(state["handle"])
    router = _router(state["policy"], state.get("db"))
    try:
        collected = router.collect(handle, retry=retry)
    finally:
        router.close()
    target = out or file.with_name(file.name + ".results.jsonl")
    with target.open("w", encoding="utf-8") as f:
        for o in collected.outcomes:
            r = o.result
            row = {
                "custom_id": o.custom_id,
                "outcome": o.outcome,
                "batch_result": o.batch_result,
                "text": None if r is None else r.text,
                "model": None if r is None else r.model,
                "batch_priced": None if r is None else r.usage.batch,
                "cost": None if r is None or r.cost is None else str(r.cost),
                "error": o.error,
            }
            f.write(json.dumps(row) + "\n")
    counts = ", ".join(f"{k} {v}" for k, v in collected.counts().items())
    console = Console(highlight=False)
    console.print(f"batch {escape(handle.id)}: {escape(counts)}; results in {escape(str(target))}")
    if collected.batch_price_source:
        console.print(f"batch prices: {escape(collected.batch_price_source)}")
