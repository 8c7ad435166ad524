"""``phaseroute demo-agent``: an agent workflow whose execution phase calls tools on the cheap
tier — offline, through the official Anthropic SDK against phaseroute's local upstream."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("demo-agent")(demo_agent)


def _usd(value: Decimal | None) -> str:
    if value is None:
        return "unpriced"
    return f"${value.quantize(Decimal('0.000001'), ROUND_HALF_UP)}"


def demo_agent(
    workdir: Annotated[
        Path, typer.Option(help="Where the demo writes its policy and usage database.")
    ] = Path("phaseroute-demo"),
) -> None:
    """Plan on the top tier, execute each step with tools on the cheap tier — offline."""
    from phaseroute.demo import run_agent_demo

    console = Console(highlight=False)
    console.print(
        "[bold]phaseroute demo-agent[/] — an AML screening agent, offline: the official "
        "Anthropic SDK talks to phaseroute's local upstream, which answers with scripted "
        "plans, tool calls and verdicts over the real Messages protocol.\n"
    )
    result = run_agent_demo(workdir)
    for alert, run in result.runs:
        console.print(f"[bold]{escape(alert)}[/]")
        console.print(
            f"  plan ({run.plan.tier} · {run.plan.model}): "
            + "  ".join(f"{n + 1}. {escape(step)}" for n, step in enumerate(run.steps))
        )
        table = Table(show_header=True, box=None, padding=(0, 1, 0, 2))
        for col in ("step", "tier · model", "asks for / answers", "tokens", "cost"):
            table.add_column(col, justify="right" if col in ("tokens", "cost") else "left")
        for i, turns in enumerate(run.turns):
            for turn in turns:
                asks = ", ".join(
                    f"{c.name}({', '.join(str(v) for v in c.input.values())})"
                    for c in turn.tool_calls
                )
                table.add_row(
                    str(i + 1),
                    f"{turn.tier} · {turn.model}",
                    escape(asks) if asks else f"[dim]{escape(turn.text[:60])}[/]",
                    f"{turn.usage.input_tokens}→{turn.usage.output_tokens}",
                    _usd(turn.cost),
                )
        console.print(table)
        for t in run.tool_runs:
            if t.is_error:
                console.print(
                    f"  [yellow]tool error[/] {escape(t.call.name)}: {escape(t.output)} — "
                    "the model saw it and called the tool again"
                )
        console.print(f"  verdict: [bold]{escape(run.results[-1].text)}[/]\n")
    cost, top = result.cost, result.top_tier_cost
    count = sum(len(r.calls) for _, r in result.runs)
    line = f"{count} routed calls cost {_usd(cost)}"
    if cost is not None and top is not None and top > 0:
        line += f"; on the top tier alone {_usd(top)} (saving {(1 - cost / top) * 100:.0f}%)"
    console.print(line + ".")
    console.print(
        f"[dim]Policy: {escape(str(result.policy))}; usage in {escape(str(workdir / 'agent.db'))} "
        "(`phaseroute usage --db` shows it). Token counts are the local upstream's "
        "approximations.[/]"
    )
