"""``phaseroute cost``: what a policy's workflows cost per day and month, routed or not."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phaseroute.cli._levers import levers_json, levers_markdown, levers_notes, levers_table
from phaseroute.costs import (
    CostProjection,
    NoSensitivity,
    PlotFiles,
    PriceBook,
    Sensitivity,
    WorkflowCost,
    plot_sensitivity,
    project_costs,
    project_levers,
    sensitivity,
)
from phaseroute.errors import RequestError
from phaseroute.policy import load_plan


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)


def cost(
    policy: Annotated[Path, typer.Argument(help="The policy YAML file.", show_default=False)],
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    plot_dir: Annotated[
        Path | None,
        typer.Option(
            "--plot-dir",
            help="Write the sensitivity plot (PNG and SVG, one per workflow) into this directory.",
        ),
    ] = None,
) -> None:
    """Project daily and monthly cost per phase and workflow: uniform top tier, the routing
    plan, uniform cheapest tier; the saving, and how it moves with the volume and price
    ratios. A month is 30.4 days."""
    if plot_dir is not None and plot_dir.exists() and not plot_dir.is_dir():
        raise RequestError(f"--plot-dir {plot_dir} is a file — name a directory to write into")
    plan = load_plan(policy)
    book = PriceBook.from_policy(plan.policy)
    projection = project_costs(plan, book, workflow)
    levers = project_levers(plan, book, workflow)
    models = {w.workflow: sensitivity(w) for w in projection.workflows}
    plots: list[PlotFiles] = []
    if plot_dir is not None:
        for s in models.values():
            if isinstance(s, Sensitivity):
                plots.append(_plot(s, plot_dir, projection))
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 100)  # piped output: don't squeeze to 80
    if fmt is Format.json:
        console.print_json(
            json.dumps({**as_json(projection, models, plots), "levers": levers_json(levers)})
        )
    elif fmt is Format.markdown:
        text = markdown(projection, models, plots) + levers_markdown(levers)
        console.print(text, markup=False, soft_wrap=True)
    else:
        console.print(render(projection, models, plots, plot_dir is not None))
        console.print(levers_table(levers), levers_notes(levers))


def _plot(s: Sensitivity, directory: Path, p: CostProjection) -> PlotFiles:
    try:
        return plot_sensitivity(
            s,
            directory,
            top_model=p.top_model,
            cheapest_model=p.cheapest_model,
            price_version=p.price_version,
            policy_hash=p.policy_hash,
        )
    except OSError as e:
        raise RequestError(
            f"cannot write the plot into --plot-dir {directory}: {e.strerror or e} — "
            "name a directory you can write to"
        ) from None


def usd(value: Decimal) -> str:
    """Dollars for people: cents above a dollar, four decimals below."""
    places = 2 if value == 0 or abs(value) >= 1 else 4
    return f"${value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,f}"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


# ------------------------------------------------------------------ json


def as_json(
    p: CostProjection,
    models: dict[str, Sensitivity | NoSensitivity],
    plots: list[PlotFiles],
) -> dict[str, Any]:
    doc = p.to_dict()
    for w in doc["workflows"]:
        s = models[w["workflow"]]
        if isinstance(s, Sensitivity):
            w["sensitivity"] = {
                "volume_ratio": round(s.volume_ratio, 6),
                "price_ratio": round(s.price_ratio, 6),
                "saving_pct": round(s.saving_pct, 4),
            }
        else:
            w["sensitivity"] = {"unavailable": s.reason}
        w["plots"] = [
            {"png": str(f.png), "svg": str(f.svg)} for f in plots if f.workflow == w["workflow"]
        ]
    return doc


# ------------------------------------------------------------------ table


def render(
    p: CostProjection,
    models: dict[str, Sensitivity | NoSensitivity],
    plots: list[PlotFiles],
    plotted: bool,
) -> Group:
    parts: list[Table | Text] = []
    for w in p.workflows:
        parts.append(_table(p, w))
        parts.append(_scenarios(p, w))
        parts.append(_summary(p, w, models[w.workflow]))
    files = [f"{f.png} and {f.svg}" for f in plots]
    footer = [
        f"Prices: {p.price_version}; overrides from the policy. "
        f"A month is {p.days_per_month} days. USD.",
    ]
    if files:
        footer.extend(f"Plot: {f}" for f in files)
    elif not plotted:
        footer.append("Add --plot-dir DIR for the sensitivity plot (PNG and SVG).")
    parts.append(Text("\n".join(footer), style="dim"))
    return Group(*parts)


def _table(p: CostProjection, w: WorkflowCost) -> Table:
    t = Table(
        title=f"{w.workflow} — cost per phase (USD per day, per month below)",
        title_justify="left",
        show_lines=False,
    )
    t.add_column("phase\n[dim]route[/]", overflow="fold")
    t.add_column("calls/day\n[dim]tokens in→out[/]", justify="right")
    t.add_column(f"uniform\n{escape(p.top_model)}", justify="right")
    t.add_column("routed", justify="right", style="bold")
    t.add_column(f"uniform\n{escape(p.cheapest_model)}", justify="right")
    t.add_column("saving", justify="right", style="green")
    for c in w.phases:
        d, m = c.daily, c.monthly
        t.add_row(
            f"{escape(c.phase)}\n[dim]{escape(c.tier)} · {escape(c.model)}[/]",
            f"{c.volume:,}\n[dim]{c.tokens_in:,}→{c.tokens_out:,}[/]",
            _two(d.uniform_top, m.uniform_top),
            _two(d.routed, m.routed),
            _two(d.uniform_cheapest, m.uniform_cheapest),
            f"{usd(d.saving)}\n[dim]{_pct(d.saving_pct)}[/]",
            end_section=True,
        )
    for u in w.uncosted:
        t.add_row(f"{escape(u.phase)}", "[yellow]not costed[/]", "—", "—", "—", "—")
    return t


def _two(day: Decimal, month: Decimal) -> str:
    return f"{usd(day)}\n[dim]{usd(month)}[/]"


def _scenarios(p: CostProjection, w: WorkflowCost) -> Table:
    t = Table(title=f"{w.workflow} — totals", title_justify="left")
    t.add_column("scenario")
    t.add_column("models")
    t.add_column("per day", justify="right")
    t.add_column("per month", justify="right")
    t.add_column("vs uniform top tier", justify="right")
    d, m = w.daily, w.monthly
    routed_models = sorted({c.model for c in w.phases})
    rows = (
        ("uniform top tier", p.top_model, d.uniform_top, m.uniform_top),
        ("routing plan", ", ".join(routed_models), d.routed, m.routed),
        ("uniform cheapest tier", p.cheapest_model, d.uniform_cheapest, m.uniform_cheapest),
    )
    for name, models, day, month in rows:
        if d.uniform_top == 0 or name == "uniform top tier":
            versus = "—"
        else:
            versus = f"−{usd(d.uniform_top - day)}/day (−{_pct((1 - day / d.uniform_top) * 100)})"
        style = "bold" if name == "routing plan" else None
        t.add_row(name, escape(models), usd(day), usd(month), versus, style=style)
    return t


def _summary(p: CostProjection, w: WorkflowCost, s: Sensitivity | NoSensitivity) -> Text:
    lines: list[str] = []
    if w.phases:
        m = w.monthly
        lines.append(
            f"[bold green]The routing plan saves {usd(w.daily.saving)}/day, "
            f"{usd(m.saving)}/month ({_pct(m.saving_pct)}) against uniform "
            f"{escape(p.top_model)}.[/]"
        )
    for u in w.uncosted:
        lines.append(f"[yellow]Not costed: {escape(u.phase)} — {escape(u.reason)}[/]")
    if isinstance(s, Sensitivity):
        lines.append(
            f"Screening-to-judgment volume ratio {s.volume_ratio:.3g} (calls/day below the "
            f"strong tier {escape(p.strong_tier)!r} ÷ the rest); tier price ratio "
            f"{s.price_ratio:.3g} ({escape(p.top_model)} ÷ {escape(p.cheapest_model)} "
            "on this workflow's token mix)."
        )
    else:
        lines.append(f"No sensitivity plot: {escape(s.reason)}.")
    return Text.from_markup("\n".join(lines) + "\n")


# ------------------------------------------------------------------ markdown


def markdown(
    p: CostProjection,
    models: dict[str, Sensitivity | NoSensitivity],
    plots: list[PlotFiles],
) -> str:
    out: list[str] = [f"# Cost projection (policy `{p.policy_hash[:12]}`)", ""]
    out.append(
        f"Prices: {p.price_version}, overrides from the policy. USD; a month is "
        f"{p.days_per_month} days. Uniform top tier = `{p.top_model}`, uniform cheapest "
        f"tier = `{p.cheapest_model}`."
    )
    for w in p.workflows:
        out += ["", f"## {w.workflow}", ""]
        out.append(
            "| phase | route | calls/day | tokens in/out | uniform top /day | routed /day "
            "| uniform cheapest /day | routed /month | saving /month |"
        )
        out.append("|---|---|--:|--:|--:|--:|--:|--:|--:|")
        for c in w.phases:
            d, m = c.daily, c.monthly
            out.append(
                f"| {c.phase} | {c.tier} · {c.model} | {c.volume:,} | "
                f"{c.tokens_in:,} / {c.tokens_out:,} | {usd(d.uniform_top)} | {usd(d.routed)} "
                f"| {usd(d.uniform_cheapest)} | {usd(m.routed)} | {usd(m.saving)} "
                f"({_pct(m.saving_pct)}) |"
            )
        d, m = w.daily, w.monthly
        out.append(
            f"| **total** | | | | **{usd(d.uniform_top)}** | **{usd(d.routed)}** "
            f"| **{usd(d.uniform_cheapest)}** | **{usd(m.routed)}** | **{usd(m.saving)} "
            f"({_pct(m.saving_pct)})** |"
        )
        out.append("")
        out.append(
            f"Monthly: uniform top {usd(m.uniform_top)}, routed {usd(m.routed)}, "
            f"uniform cheapest {usd(m.uniform_cheapest)}; saving {usd(m.saving)} "
            f"({_pct(m.saving_pct)})."
        )
        for u in w.uncosted:
            out.append(f"- Not costed: **{u.phase}** — {u.reason}")
        s = models[w.workflow]
        if isinstance(s, Sensitivity):
            out.append(
                f"\nVolume ratio {s.volume_ratio:.3g} (below the strong tier ÷ the rest), "
                f"price ratio {s.price_ratio:.3g} (top ÷ cheapest)."
            )
        else:
            out.append(f"\nNo sensitivity plot: {s.reason}.")
        for f in plots:
            if f.workflow == w.workflow:
                out.append(f"\n![saving sensitivity for {w.workflow}]({f.png}) ([SVG]({f.svg}))")
    return "\n".join(out)
