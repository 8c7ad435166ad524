"""``phaseroute check`` and ``phaseroute explain``: the policy and its compiled plan."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from phaseroute.cli._tables import Column, emit, emit_json, new_table, print_table
from phaseroute.errors import RequestError
from phaseroute.policy import PhaseDecision, RoutingPlan, load_plan, plan_summary


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


WIDE = 140  # columns needed to show reasons inside the table

PolicyArg = Annotated[Path, typer.Argument(help="The policy YAML file.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("explain")(explain)


def check(policy: PolicyArg) -> None:
    """Validate POLICY: exit 0 if it compiles, 1 with one message per problem if not."""
    plan = load_plan(policy)
    n = len(plan.decisions)
    console = Console(highlight=False, soft_wrap=True)
    for notice in plan.notices:
        console.print(f"[yellow]warning:[/] {escape(notice.render())}")
    warned = f", {len(plan.notices)} warning(s)" if plan.notices else ""
    console.print(
        f"{policy}: ok — {len(plan.policy.workflows)} workflow(s), {n} phase(s), "
        f"policy hash {plan.policy_hash[:12]}{warned}",
        markup=False,
    )


def explain(
    policy: PolicyArg,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    phase: Annotated[str | None, typer.Option(help="Only this phase.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Show every phase's route: tier, model, basis, the reasons and the warnings."""
    plan = load_plan(policy)
    decisions = select(plan, workflow, phase)
    if fmt is Format.json:
        keys = {d.key for d in decisions}
        rows = [r for r in plan_summary(plan) if (r["workflow"], r["phase"]) in keys]
        emit_json({"policy": str(policy), "policy_hash": plan.policy_hash, "phases": rows})
        return
    if fmt is Format.markdown:
        emit(markdown(plan, decisions))
        return
    console = Console(highlight=False)
    if console.width >= WIDE:
        print_table(console, table(plan, decisions))
        return
    print_table(console, table(plan, decisions, with_reasons=False))
    for d in decisions:
        console.print(f"\n[bold]{d.workflow}/{d.phase}[/] → {d.tier} ({d.model.name})")
        for reason in d.reasons:
            console.print(f"  • {reason}", markup=False)
        for warning in d.warnings:
            console.print(f"  ⚠ {warning}", style="yellow", markup=False)


def select(plan: RoutingPlan, workflow: str | None, phase: str | None) -> list[PhaseDecision]:
    if workflow is not None and phase is not None:
        return [plan.decision(workflow, phase)]
    if workflow is not None:
        return plan.for_workflow(workflow)
    if phase is not None:
        found = [d for d in plan if d.phase == phase]
        if not found:
            raise RequestError(f"no workflow of this policy has a phase named {phase!r}")
        return found
    return list(plan)


def table(plan: RoutingPlan, decisions: list[PhaseDecision], *, with_reasons: bool = True) -> Table:
    """The plan as a table; narrow terminals get the reasons below it instead."""
    columns = [Column("phase", kind="name")]
    if with_reasons:
        columns.append(Column("kind"))
    columns += [Column("tier"), Column("model", kind="name"), Column("basis")]
    if with_reasons:
        columns += [Column("reasons", ratio=3), Column("warnings", ratio=2, style="yellow")]
    else:
        columns.append(Column("rule"))
    t = new_table(
        f"Routing plan — policy {plan.policy_hash[:12]}",
        columns,
        show_lines=with_reasons,
    )
    for d in decisions:
        cells = [d.phase + (" [bold](audit)[/]" if d.audit else "")]
        if with_reasons:
            cells.append(d.kind.value)
        cells += [d.tier, d.model.name, d.basis.value]
        if with_reasons:
            cells += ["\n".join(d.reasons), "\n".join(f"⚠ {w}" for w in d.warnings)]
        else:
            cells.append(d.rule + (" ⚠" if d.warnings else ""))
        t.add_row(*cells)
    return t


def markdown(plan: RoutingPlan, decisions: list[PhaseDecision]) -> str:
    lines = [
        f"# Routing plan (policy `{plan.policy_hash[:12]}`)",
        "",
        "| phase | kind | tier | model | basis | reasons | warnings |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in decisions:
        cells = [
            f"{d.workflow}/{d.phase}" + (" (audit)" if d.audit else ""),
            d.kind.value,
            d.tier,
            f"{d.model.name} (`{d.model.model_id}`)",
            d.basis.value,
            "<br>".join(d.reasons),
            "<br>".join(d.warnings),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
