"""``phaseroute init``: write a commented starter policy for a described workflow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from phaseroute.errors import Problem, UserError
from phaseroute.policy import load_plan
from phaseroute.policy._schema import CatastrophicError, Kind
from phaseroute.policy._starter import (
    STARTER_MODELS,
    StarterPhase,
    StarterSpec,
    render_starter,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_KINDS = ", ".join(k.value for k in Kind)
_ERRORS = ", ".join(e.value for e in CatastrophicError)
_FLAGS = ("audit", "record")

PHASE_HELP = (
    "A phase as NAME:KIND:CATASTROPHIC_ERROR[:VOLUME][:audit|:record], in the order the "
    f"work flows; repeat for each phase. KIND is one of {_KINDS}; CATASTROPHIC_ERROR is "
    "missed_risk (a false negative on a high-stakes judgment) or throughput (too slow or too "
    "expensive at scale); VOLUME is calls per day. Example: "
    "--phase screening:screening:throughput:50000 --phase decision:judgment:missed_risk:800:audit"
)


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    workflow: Annotated[str, typer.Option(help="The workflow's name, e.g. aml.")],
    phase: Annotated[list[str], typer.Option("--phase", help=PHASE_HELP, show_default=False)],
    feeds: Annotated[
        list[str] | None,
        typer.Option(
            "--feeds",
            help="FROM:TO — phase FROM's output feeds phase TO (repeat). Default: none.",
            show_default=False,
        ),
    ] = None,
    provider: Annotated[
        str, typer.Option(help=f"Models to start from: {', '.join(STARTER_MODELS)}.")
    ] = "anthropic",
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the policy.")] = Path(
        "phaseroute.yaml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter policy for a workflow described by its phases; it passes
    `phaseroute check` as written. Then edit what the comments point at."""
    spec = StarterSpec(
        workflow=_name(workflow, "--workflow"),
        phases=_phases(phase),
        feeds=_feeds(feeds or [], phase),
        provider=_provider(provider),
        policy_file=str(out),
    )
    if out.exists() and not force:
        raise UserError(
            [Problem(f"{out} already exists", file=str(out), fix="choose --out or pass --force")]
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_starter(spec), encoding="utf-8")
    plan = load_plan(out)  # the starter must pass check: fail here, not in the user's hands
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"wrote {escape(str(out))}: workflow {escape(spec.workflow)!r}, "
        f"{len(spec.phases)} phase(s), policy hash {plan.policy_hash[:12]}"
    )
    console.print("next:", markup=False)
    if any(p.audit or p.record for p in spec.phases):
        console.print(f"  phaseroute audit keygen --policy {escape(str(out))}", markup=False)
    for command in ("explain", "cost"):
        console.print(f"  phaseroute {command} {out}", markup=False)


def _bad(option: str, value: str, why: str) -> typer.BadParameter:
    return typer.BadParameter(f"{value!r}: {why}", param_hint=option)


def _name(value: str, option: str) -> str:
    if not _NAME.match(value):
        raise _bad(option, value, "use letters, digits, '_', '-' or '.', starting with a letter")
    return value


def _phases(specs: list[str]) -> tuple[StarterPhase, ...]:
    phases: list[StarterPhase] = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) < 3:
            raise _bad("--phase", spec, "write NAME:KIND:CATASTROPHIC_ERROR[:VOLUME][:audit]")
        name, kind, error, *rest = parts
        _name(name, "--phase")
        if kind not in Kind.__members__:
            raise _bad("--phase", spec, f"KIND {kind!r} is not one of {_KINDS}")
        if error not in CatastrophicError.__members__:
            raise _bad("--phase", spec, f"{error!r} is not one of {_ERRORS}")
        volume = 1000
        flags: set[str] = set()
        for extra in rest:
            if extra.isdigit():
                volume = int(extra)
            elif extra in _FLAGS:
                flags.add(extra)
            else:
                raise _bad("--phase", spec, f"{extra!r} is neither a volume nor audit/record")
        if any(p.name == name for p in phases):
            raise _bad("--phase", spec, f"phase {name!r} is given twice")
        phases.append(
            StarterPhase(
                name,
                Kind(kind),
                CatastrophicError(error),
                volume,
                audit="audit" in flags,
                record="record" in flags,
            )
        )
    return tuple(phases)


def _feeds(edges: list[str], specs: list[str]) -> dict[str, tuple[str, ...]]:
    names = [s.split(":", 1)[0] for s in specs]
    out: dict[str, list[str]] = {}
    for edge in edges:
        source, sep, target = edge.partition(":")
        if not sep or source not in names or target not in names or source == target:
            raise _bad(
                "--feeds", edge, f"write FROM:TO with two different phases of: {', '.join(names)}"
            )
        out.setdefault(source, []).append(target)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def _provider(value: str) -> str:
    if value not in STARTER_MODELS:
        raise _bad("--provider", value, f"use one of {', '.join(STARTER_MODELS)}")
    return value
