"""The cost–quality plot: every strategy's holdout saving against its quality, per seed.

Drawn on a bare `matplotlib.figure.Figure` (Agg for PNG, the SVG backend for SVG): no pyplot
state, no display. matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phaseroute.bench._evaluate import BenchResult

_COLOURS = {
    "uniform_top": "#1f3b73",
    "uniform_cheapest": "#8c8c8c",
    "measured": "#d1495b",
    "kinds": "#edae49",
    "random": "#66a182",
    "oracle": "#00798c",
}


@dataclass(frozen=True, slots=True)
class BenchPlot:
    """The files the plot was written to."""

    png: Path
    svg: Path


def plot_bench(result: BenchResult, path: str | Path) -> BenchPlot:
    """Write the plot to ``path`` with suffixes .png and .svg (directories are created)."""
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import PercentFormatter  # noqa: PLC0415

    base = Path(path)
    if base.suffix.lower() in {".png", ".svg"}:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    data, settings = result.data, result.settings
    in_usd = data.priced

    fig = Figure(figsize=(9.5, 6.2), layout="constrained")
    ax = fig.subplots()
    for s in result.strategies:
        if not s.ran:
            continue
        colour = _COLOURS.get(s.key, "black")
        xs = [100 * ((o.saving or 0.0) if in_usd else 1.0 - o.top_share) for o in s.outcomes]
        ys = [100 * o.ratio for o in s.outcomes]
        ax.scatter(xs, ys, s=14, color=colour, alpha=0.35, linewidths=0)
        x, y = sum(xs) / len(xs), sum(ys) / len(ys)
        ax.errorbar(
            x,
            y,
            xerr=(max(xs) - min(xs)) / 2 or None,
            yerr=(max(ys) - min(ys)) / 2 or None,
            fmt="o",
            color=colour,
            markersize=8,
            capsize=3,
            label=f"{s.label} ({x:.0f}%, {y:.1f}%)",
        )
        right = x > 70.0  # keep labels of points near the right edge inside the axes
        ax.annotate(
            s.label,
            (x, y),
            textcoords="offset points",
            xytext=(-7, 6) if right else (7, 6),
            ha="right" if right else "left",
            fontsize=8,
            color=colour,
        )
    if settings.floor is not None:
        ax.axhline(100 * settings.floor, color="#d1495b", linestyle="--", linewidth=1)
        ax.annotate(
            f"floor {100 * settings.floor:g}%",
            (0, 100 * settings.floor),
            xycoords=("axes fraction", "data"),
            textcoords="offset points",
            xytext=(4, -11),
            fontsize=8,
            color="#d1495b",
        )
    ax.set_xlabel(
        "saving vs uniform top tier (holdout cost)"
        if in_usd
        else "share of items off the reference (prices unknown)"
    )
    ax.set_ylabel("holdout score ÷ top tier's holdout score")
    ax.set_xlim(-5.0, 105.0)
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    top = data.models[data.reference].name
    ax.set_title(
        f"{data.source.name}: {len(data.phases)} phases, {len(data.scores):,} items — "
        f"reference {top}\n{settings.repeats} seeded splits ({100 * settings.split:g}% "
        "calibration); dots: each seed, markers: mean with range",
        fontsize=10,
    )
    fig.text(0.99, 0.005, data.price_version, ha="right", va="bottom", fontsize=7, color="gray")
    png, svg = base.with_suffix(".png"), base.with_suffix(".svg")
    fig.savefig(png, dpi=130)
    fig.savefig(svg)
    return BenchPlot(png=png, svg=svg)
