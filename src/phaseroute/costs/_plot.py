"""The sensitivity plot: saving vs volume ratio and tier price ratio, policy marked.

Drawn on a bare `matplotlib.figure.Figure` (Agg for PNG, the SVG backend for SVG), so no
pyplot global state is touched and no display is needed. matplotlib is imported when a plot
is drawn, so pricing at run time does not pay for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from phaseroute.costs._sensitivity import Sensitivity


@dataclass(frozen=True, slots=True)
class PlotFiles:
    """The files one sensitivity plot was written to."""

    workflow: str
    png: Path
    svg: Path


def _span(center: float, low: float, high: float) -> tuple[float, float]:
    """A log-axis range covering [low, high] and a decade either side of `center`."""
    return (min(low, center / 10), max(high, center * 10))


def _curve_price_ratios(policy: float, low: float, high: float) -> list[float]:
    candidates = [2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
    near = [c for c in candidates if low <= c <= high and not 0.75 < c / policy < 1.33]
    if len(near) > 4:
        step = (len(near) - 1) / 3
        near = [near[round(i * step)] for i in range(4)]
    return sorted({*near, policy})


def plot_sensitivity(
    s: Sensitivity,
    directory: Path,
    *,
    top_model: str,
    cheapest_model: str,
    price_version: str,
    policy_hash: str,
) -> PlotFiles:
    """Write `cost-<workflow>.png` and `.svg` into `directory` (created if missing)."""
    # Imported here: matplotlib costs ~0.5 s to import and run-time pricing never plots.
    import numpy as np  # noqa: PLC0415 - nor does it need numpy
    from matplotlib import colormaps  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    r_lo, r_hi = _span(s.volume_ratio, 0.1, 100.0)
    p_lo, p_hi = _span(s.price_ratio, 1.5, 200.0)
    p_lo = max(p_lo, 1.01)
    r_grid = np.geomspace(r_lo, r_hi, 160)
    p_grid = np.geomspace(p_lo, p_hi, 160)
    rr, pp = np.meshgrid(r_grid, p_grid)
    z = s.savings_pct(rr, pp)
    here = s.saving_pct

    fig = Figure(figsize=(13, 5.6), layout="constrained")
    heat, curves = fig.subplots(1, 2, width_ratios=(1.15, 1))

    # Filled contours in 5-point bands keep the SVG small (a mesh would be 25k rectangles).
    low, high = min(0.0, np.floor(z.min() / 5) * 5), max(5.0, np.ceil(z.max() / 5) * 5)
    mesh = heat.contourf(rr, pp, z, levels=np.arange(low, high + 5, 5), cmap="viridis")
    levels = [lv for lv in (10, 20, 30, 40, 50, 60, 70, 80, 90) if z.min() < lv < z.max()]
    if levels:
        lines = heat.contour(rr, pp, z, levels=levels, colors="white", linewidths=0.8)
        heat.clabel(lines, fmt="%d%%", fontsize=8)
    fig.colorbar(mesh, ax=heat, label="saving vs uniform top tier (%)")
    heat.set_xscale("log")
    heat.set_yscale("log")
    heat.set_xlabel(
        "screening-to-judgment volume ratio (calls/day below ÷ at or above the strong tier)"
    )
    heat.set_ylabel("tier price ratio (top ÷ cheapest, per call)")
    heat.set_title("Saving over both ratios")
    marker = {
        "marker": "*",
        "markersize": 17,
        "color": "#d62728",
        "markeredgecolor": "white",
        "linestyle": "none",
        "zorder": 5,
    }
    heat.plot([s.volume_ratio], [s.price_ratio], **marker)
    curves.plot([s.volume_ratio], [here], label="this policy", **marker)
    heat.annotate(
        f"this policy\nr = {s.volume_ratio:.3g}, ρ = {s.price_ratio:.3g}\nsaving {here:.1f}%",
        (s.volume_ratio, s.price_ratio),
        xytext=(12, 12),
        textcoords="offset points",
        color="white",
        fontsize=9,
        fontweight="bold",
    )

    ratios = _curve_price_ratios(s.price_ratio, p_lo, p_hi)
    blues = colormaps["Blues"]
    for i, ratio in enumerate(ratios):
        is_policy = ratio == s.price_ratio
        curves.plot(
            r_grid,
            s.savings_pct(r_grid, ratio),
            linewidth=2.6 if is_policy else 1.4,
            color="#d62728" if is_policy else blues(0.35 + 0.6 * i / max(1, len(ratios) - 1)),
            label=f"ρ = {ratio:.3g}" + (" (this policy)" if is_policy else ""),
        )
    curves.set_xscale("log")
    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    for axis in (heat.xaxis, heat.yaxis, curves.xaxis):
        axis.set_major_formatter(plain)
    curves.set_xlabel("screening-to-judgment volume ratio")
    curves.set_ylabel("saving vs uniform top tier (%)")
    curves.set_title("Saving by volume ratio, at several price ratios")
    curves.grid(True, which="both", alpha=0.3)
    curves.legend(fontsize=8, loc="lower right")

    fig.suptitle(
        f"{s.workflow}: routing plan vs uniform {top_model} (cheapest tier: {cheapest_model})",
        fontsize=13,
    )
    fig.text(
        0.5,
        -0.01,
        f"prices: {price_version} · policy {policy_hash[:12]} · "
        "lower tiers scale with ρ by their log-position between top and cheapest",
        ha="center",
        va="top",
        fontsize=8,
        color="0.35",
    )

    directory.mkdir(parents=True, exist_ok=True)
    stem = "cost-" + re.sub(r"[^A-Za-z0-9_.-]", "_", s.workflow)
    png, svg = directory / f"{stem}.png", directory / f"{stem}.svg"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return PlotFiles(s.workflow, png, svg)
