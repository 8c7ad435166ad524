"""``phaseroute cost``: what a policy's workflows cost per day and month, routed or not."""

from __future__ import annotations

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
from phaseroute.cli._tables import Column, emit, emit_json, new_table, print_table
from phaseroute.costs import (
    CostProjection,
    NoSensitivity,
    PlotFiles,
    PriceBook,
    Scenario,
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
    if fmt is Format.json:
        emit_json({**as_json(projection, models, plots), "levers": levers_json(levers)})
    elif fmt is Format.markdown:
        emit(markdown(projection, models, plots) + levers_markdown(levers))
    else:
        console = Console(highlight=False)
        for part in render(projection, models, plots, plot_dir is not None).renderables:
            if isinstance(part, Table):
                print_table(console, part)
            else:
                console.print(part)
        print_table(console, levers_table(levers))
        console.print(levers_notes(levers))


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


def usd(value: Decimal | None) -> str:
    """Dollars for people: cents above a dollar, four decimals below; "unpriced" for None."""
    if value is None:
        return UNPRICED
    places = 2 if value == 0 or abs(value) >= 1 else 4
    return f"${value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,f}"


UNPRICED = "unpriced"


def saving_words(saving: Decimal | None, pct: Decimal | None, per: str = "") -> str:
    """A saving for people: never a negative amount called a saving."""
    if saving is None:
        return "no saving can be computed (unpriced)"
    share = f" ({_pct(abs(pct))})" if pct is not None else ""
    if saving > 0:
        return f"saves {usd(saving)}{per}{share}"
    if saving < 0:
        return f"costs {usd(-saving)}{per} more{share}"
    return "costs the same"


def _saving_cell(saving: Decimal | None, pct: Decimal | None) -> str:
    if saving is None:
        return "—"
    share = f"\n[dim]{_pct(abs(pct))}[/]" if pct is not None else ""
    if saving < 0:
        return f"[red]+{usd(-saving)} more[/]{share}"
    return f"{usd(saving)}{share}"


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
    t = new_table(
        f"{w.workflow} — cost per phase (USD per day, per month below)",
        [
            Column("phase\n[dim]route[/]", kind="name"),
            Column("calls/day\n[dim]tokens in→out[/]", justify="right", kind="number"),
            Column(f"uniform\n{escape(p.top_model)}", justify="right", kind="number"),
            Column("routed", justify="right", kind="number", style="bold"),
            Column(f"uniform\n{escape(p.cheapest_model)}", justify="right", kind="number"),
            Column("saving", justify="right", kind="number", style="green"),
        ],
    )
    for c in w.phases:
        d, m = c.daily, c.monthly
        t.add_row(
            f"{escape(c.phase)}\n[dim]{escape(c.tier)} · {escape(c.model)}[/]",
            f"{c.volume:,}\n[dim]{c.tokens_in:,}→{c.tokens_out:,}[/]",
            _two(d.uniform_top, m.uniform_top),
            _two(d.routed, m.routed),
            _two(d.uniform_cheapest, m.uniform_cheapest),
            _saving_cell(d.saving, d.saving_pct),
            end_section=True,
        )
    for u in w.uncosted:
        t.add_row(f"{escape(u.phase)}", "[yellow]not costed[/]", "—", "—", "—", "—")
    return t


def _two(day: Decimal | None, month: Decimal | None) -> str:
    if day is None:
        return f"[yellow]{UNPRICED}[/]"
    return f"{usd(day)}\n[dim]{usd(month)}[/]"


def _left_out(w: WorkflowCost, scenario: Scenario) -> str:
    missing = w.missing(scenario)
    if not missing or w.daily.of(scenario) is None:
        return ""
    return f" (without {', '.join(missing)})"


def _versus(w: WorkflowCost, scenario: Scenario) -> str:
    """`scenario` against uniform top tier over the phases priced in both."""
    both = [
        p.daily
        for p in w.phases
        if p.per_call.uniform_top is not None and p.per_call.of(scenario) is not None
    ]
    top = sum((c.uniform_top or Decimal(0) for c in both), Decimal(0))
    other = sum((c.of(scenario) or Decimal(0) for c in both), Decimal(0))
    if not both or top == 0:
        return "—"
    return saving_words(top - other, (top - other) / top * 100, "/day")


def _scenarios(p: CostProjection, w: WorkflowCost) -> Table:
    t = new_table(
        f"{w.workflow} — totals",
        [
            Column("scenario"),
            Column("models"),
            Column("per day", justify="right", kind="number"),
            Column("per month", justify="right", kind="number"),
            Column("vs uniform top tier", justify="right"),
        ],
    )
    d, m = w.daily, w.monthly
    routed_models = sorted({c.model for c in w.phases})
    rows = (
        ("uniform top tier", p.top_model, Scenario.uniform_top),
        ("routing plan", ", ".join(routed_models), Scenario.routed),
        ("uniform cheapest tier", p.cheapest_model, Scenario.uniform_cheapest),
    )
    for name, models, scenario in rows:
        versus = "—" if scenario is Scenario.uniform_top else _versus(w, scenario)
        style = "bold" if scenario is Scenario.routed else None
        t.add_row(
            name,
            escape(models),
            usd(d.of(scenario)) + _left_out(w, scenario),
            usd(m.of(scenario)),
            versus,
            style=style,
        )
    return t


def _summary(p: CostProjection, w: WorkflowCost, s: Sensitivity | NoSensitivity) -> Text:
    lines: list[str] = []
    if w.phases:
        lines.append(_headline(p, w))
    for missing in w.unpriced:
        lines.append(
            f"[yellow]Unpriced: {escape(missing.model)} — left out of the totals of "
            f"{escape(', '.join(missing.phases))}. Fix: {escape(missing.fix)}.[/]"
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


def _headline(p: CostProjection, w: WorkflowCost) -> str:
    s = w.saving_daily
    over = ""
    if len(w.compared) < len(w.phases):
        over = f" on the {len(w.compared)} phase(s) priced both ways"
    if s.saving is None:
        return (
            f"[yellow]No saving can be computed: no phase is priced both on uniform "
            f"{escape(p.top_model)} and as routed.[/]"
        )
    monthly = s.saving * p.days_per_month
    if s.saving < 0:
        return (
            f"[bold red]The routing plan costs {usd(-s.saving)}/day, {usd(-monthly)}/month "
            f"more ({_pct(abs(s.saving_pct or Decimal(0)))}) than uniform "
            f"{escape(p.top_model)}{over} — check the tier order and the prices.[/]"
        )
    return (
        f"[bold green]The routing plan saves {usd(s.saving)}/day, {usd(monthly)}/month "
        f"({_pct(s.saving_pct)}) against uniform {escape(p.top_model)}{over}.[/]"
    )


# ------------------------------------------------------------------ markdown


def _md_saving(saving: Decimal | None, pct: Decimal | None) -> str:
    if saving is None:
        return "—"
    share = f" ({_pct(abs(pct))})" if pct is not None else ""
    if saving < 0:
        return f"{usd(-saving)} more{share}"
    return f"{usd(saving)}{share}"


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
                f"| {usd(d.uniform_cheapest)} | {usd(m.routed)} | "
                f"{_md_saving(m.saving, m.saving_pct)} |"
            )
        d, m = w.daily, w.monthly
        sm = w.saving_daily * p.days_per_month
        out.append(
            f"| **total** | | | | **{usd(d.uniform_top)}** | **{usd(d.routed)}** "
            f"| **{usd(d.uniform_cheapest)}** | **{usd(m.routed)}** | "
            f"**{_md_saving(sm.saving, sm.saving_pct)}** |"
        )
        out.append("")
        out.append(
            f"Monthly: uniform top {usd(m.uniform_top)}{_left_out(w, Scenario.uniform_top)}, "
            f"routed {usd(m.routed)}{_left_out(w, Scenario.routed)}, uniform cheapest "
            f"{usd(m.uniform_cheapest)}{_left_out(w, Scenario.uniform_cheapest)}; the routing "
            f"plan {saving_words(sm.saving, sm.saving_pct, '/month')}."
        )
        for missing in w.unpriced:
            out.append(
                f"- Unpriced: **{missing.model}** — left out of the totals of "
                f"{', '.join(missing.phases)}. Fix: {missing.fix}."
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
