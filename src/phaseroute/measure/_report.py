"""The human report of a measurement: Markdown, and one self-contained HTML page.

The HTML embeds its plots as base64 PNG (matplotlib, Agg, no pyplot state) and needs no
network: it opens offline, from an e-mail attachment or a CI artifact.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from phaseroute.measure._harness import MeasurementRun, PhaseResult
from phaseroute.policy._lock import Comparison, Interval

COLOURS = {
    "non_inferior": "#1b7837",
    "inferior": "#b2182b",
    "inconclusive": "#777777",
    "suspicious": "#e08214",
}


def _pct(v: float) -> str:
    return "–" if math.isnan(v) else f"{100 * v:.1f}%"


def _ci(i: Interval) -> str:
    return f"{_pct(i.estimate)} [{_pct(i.lower)}, {_pct(i.upper)}]"


def _gap(i: Interval) -> str:
    return f"{100 * i.estimate:+.1f} [{100 * i.lower:+.1f}, {100 * i.upper:+.1f}] pts"


def _points(value: float) -> str:
    """A margin in points: ``1 pt``, ``2 pts``, ``0.5 pts``."""
    return f"{value:g} pt" if value == 1 else f"{value:g} pts"


def _label(c: Comparison) -> str:
    return "suspicious" if c.suspicious else c.decision


def _rows(run: MeasurementRun) -> list[tuple[PhaseResult, Comparison]]:
    return [(r, c) for r in run.results for c in r.entry.comparisons]


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=144)
    return base64.b64encode(buf.getvalue()).decode("ascii")


TICK_FONT = 10  # readable at 1280 px and in print
LABEL_FONT = 11


def _legend_below(ax: Axes, columns: int) -> None:
    """The legend under the x axis label: it can never cover an interval."""
    ax.legend(
        fontsize=TICK_FONT,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22 if columns > 2 else -0.2),
        ncol=columns,
        frameon=False,
    )


def _height(rows: int, per_row: float) -> float:
    return 1.9 + per_row * max(1, rows)


def gap_plot(run: MeasurementRun) -> Figure:
    """Per comparison: the gap (top − cheaper) with its interval, against the margin."""
    rows = _rows(run)
    fig = Figure(figsize=(9, _height(len(rows), 0.34)), layout="constrained")
    ax = fig.subplots()
    for y, (r, c) in enumerate(reversed(rows)):
        colour = COLOURS[_label(c)]
        ax.plot([100 * c.gap.lower, 100 * c.gap.upper], [y, y], color=colour, lw=2.5)
        ax.plot([100 * c.gap.estimate], [y], "o", color=colour, ms=5)
        ax.plot([100 * r.entry.margin], [y], "|", color="black", ms=12, mew=2)
    several = len({c.candidate.model for _, c in rows}) > 1
    labels = [f"{r.phase} · {c.candidate.model}" if several else r.phase for r, c in reversed(rows)]
    ax.set_yticks(range(len(rows)), labels, fontsize=TICK_FONT)
    ax.tick_params(axis="x", labelsize=TICK_FONT)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_xlabel(
        "gap: top tier minus cheaper model (points); | = the phase's margin", fontsize=LABEL_FONT
    )
    ax.set_title(
        "Non-inferiority: the upper end must stay left of the margin", fontsize=LABEL_FONT + 1
    )
    shown = {_label(c) for _, c in rows}
    for name, colour in COLOURS.items():
        if name in shown:
            ax.plot([], [], color=colour, lw=2.5, label=name.replace("_", "-"))
    _legend_below(ax, len(shown))
    ax.grid(axis="x", alpha=0.3)
    return fig


def metric_plot(run: MeasurementRun) -> Figure:
    """Per phase: each compared model's metric with its interval."""
    rows = _rows(run)
    fig = Figure(figsize=(9, _height(len(rows), 0.42)), layout="constrained")
    ax = fig.subplots()
    for y, (_, c) in enumerate(reversed(rows)):
        for dy, m, colour in ((0.15, c.reference, "#2166ac"), (-0.15, c.candidate, "#d6604d")):
            if math.isnan(m.value.estimate):
                continue
            ax.plot(
                [100 * m.value.lower, 100 * m.value.upper], [y + dy, y + dy], color=colour, lw=2
            )
            ax.plot([100 * m.value.estimate], [y + dy], "o", color=colour, ms=4)
    ax.set_yticks(
        range(len(rows)),
        [f"{r.phase} · n={c.n}" for r, c in reversed(rows)],
        fontsize=TICK_FONT,
    )
    ax.tick_params(axis="x", labelsize=TICK_FONT)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.plot([], [], "o-", color="#2166ac", label="top-tier reference", ms=4)
    ax.plot([], [], "o-", color="#d6604d", label="cheaper candidate", ms=4)
    _legend_below(ax, 2)
    ax.set_xlabel("metric (%), with its interval, on the same items", fontsize=LABEL_FONT)
    ax.set_xlim(-2, 102)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _table(run: MeasurementRun) -> tuple[list[str], list[list[str]]]:
    head = [
        "phase",
        "reference",
        "candidate",
        "n",
        "reference metric",
        "candidate metric",
        "gap",
        "margin",
        "decision",
        "stopped early",
        "items needed",
    ]
    body = [
        [
            f"{r.workflow}/{r.phase}",
            c.reference.model,
            c.candidate.model,
            str(c.n),
            _ci(c.reference.value),
            _ci(c.candidate.value),
            _gap(c.gap),
            _points(100 * r.entry.margin),
            _label(c).replace("_", "-"),
            "yes" if c.stopped_early else "no",
            str(c.items_needed) if c.items_needed else "",
        ]
        for r, c in _rows(run)
    ]
    return head, body


def _counts(run: MeasurementRun) -> str:
    outcomes: list[str] = [r.entry.outcome for r in run.results]
    parts = [f"{outcomes.count(k)} {k.replace('_', '-')}" for k in COLOURS if outcomes.count(k)]
    used = sum(r.items_used for r in run.results)
    available = sum(r.items_available for r in run.results)
    return (
        f"{len(run.results)} phase(s) measured: {', '.join(parts) or 'none'}. "
        f"Items used {used} of {available} available."
    )


def markdown_report(run: MeasurementRun, title: str) -> str:
    """The report as Markdown (tables and the evidence in words; plots are in the HTML)."""
    head, body = _table(run)
    lines = [f"# {title}", "", _counts(run), ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    lines += ["", "## Evidence by phase", ""]
    for r in run.results:
        lines += [f"### {r.workflow}/{r.phase} — {r.entry.outcome.replace('_', '-')}", ""]
        lines += [r.entry.summary, ""]
        for c in r.entry.comparisons:
            lines += [f"- {c.candidate.model} vs {c.reference.model} ({c.method}): "]
            lines[-1] += c.explanation
        lines.append("")
    if run.skipped:
        lines += ["## Not measured", ""]
        lines += [f"- {wf}/{phase}: {why}" for wf, phase, why in run.skipped]
        lines.append("")
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;
color:#222;line-height:1.5;padding:0 1.5rem;font-size:16px}
h1{font-size:1.8rem}h2{font-size:1.35rem;margin-top:2rem}h3{font-size:1.1rem;margin-bottom:.2rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.3rem .45rem;text-align:left;vertical-align:top;
white-space:nowrap}th{white-space:normal}td.name{white-space:normal;overflow-wrap:anywhere;
min-width:6rem}
th{background:#f4f4f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ci{color:#666;font-size:.8rem}
.non-inferior{color:#1b7837;font-weight:600}.inferior{color:#b2182b;font-weight:600}
.inconclusive{color:#555;font-weight:600}.suspicious{color:#e08214;font-weight:600}
img{max-width:100%;height:auto}.meta{color:#666;font-size:.85rem}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt;line-height:1.35}
h2{font-size:13pt;break-after:avoid}h3{font-size:11pt;break-after:avoid}
table{font-size:8pt}th,td{padding:2pt 4pt}.ci{font-size:7pt}
tr,img,li{break-inside:avoid}.scroll{overflow:visible}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
@page{size:A4 landscape;margin:12mm}
"""


def _two_lines(main: str, interval: str) -> str:
    """A cell of two lines at most: the estimate, and its interval in small grey below."""
    return f"{html.escape(main)}<br><span class='ci'>{html.escape(interval)}</span>"


def _html_table(run: MeasurementRun) -> str:
    """The comparisons as an HTML table whose cells never wrap beyond two lines."""
    esc = html.escape
    single = len({r.workflow for r in run.results}) == 1
    head = (
        "phase",
        "top tier",
        "cheaper",
        "n",
        "top-tier metric<br><span class='ci'>95% CI</span>",
        "cheaper metric<br><span class='ci'>95% CI</span>",
        "gap, pts<br><span class='ci'>95% CI</span>",
        "margin",
        "decision",
        "stopped<br>early",
        "items<br>needed",
    )
    out = ["<div class='scroll'><table><tr>", *(f"<th>{h}</th>" for h in head), "</tr>"]
    for r, c in _rows(run):
        label = _label(c).replace("_", "-")
        cells = [
            f"<td>{esc(r.phase if single else f'{r.workflow}/{r.phase}')}</td>",
            f"<td class='name'>{esc(c.reference.model)}</td>",
            f"<td class='name'>{esc(c.candidate.model)}</td>",
            f"<td class='num'>{c.n:,}</td>",
            f"<td class='num'>{_metric_cell(c.reference.value)}</td>",
            f"<td class='num'>{_metric_cell(c.candidate.value)}</td>",
            "<td class='num'>"
            + _two_lines(
                f"{100 * c.gap.estimate:+.1f}",
                f"{100 * c.gap.lower:+.1f} to {100 * c.gap.upper:+.1f}",
            )
            + "</td>",
            f"<td class='num'>{esc(_points(100 * r.entry.margin))}</td>",
            f"<td class='{label}'>{label}</td>",
            f"<td>{'yes' if c.stopped_early else 'no'}</td>",
            f"<td class='num'>{c.items_needed or ''}</td>",
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "".join(out)


def _metric_cell(i: Interval) -> str:
    if math.isnan(i.estimate):
        return "–"
    return _two_lines(_pct(i.estimate), f"{100 * i.lower:.1f}–{100 * i.upper:.1f}%")


def html_report(run: MeasurementRun, title: str) -> str:
    """The report as one self-contained HTML page with the plots embedded."""
    esc = html.escape
    workflows = sorted({r.workflow for r in run.results})
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1><p>{esc(_counts(run))}</p>",
        f"<p class='meta'>workflow {esc(', '.join(workflows) or '-')} · policy sha256 "
        f"{esc(run.policy_sha256)}</p>",
    ]
    if run.results:
        out.append(
            "<h2>Gap against margin</h2>"
            f"<img alt='gap per phase against the margin' "
            f"src='data:image/png;base64,{_png(gap_plot(run))}'>"
            "<h2>Metric per model</h2>"
            f"<img alt='metric per model with intervals' "
            f"src='data:image/png;base64,{_png(metric_plot(run))}'>"
        )
    out.append("<h2>All comparisons</h2>")
    out.append(_html_table(run))
    out.append("<h2>Evidence by phase</h2>")
    for r in run.results:
        label = r.entry.outcome.replace("_", "-")
        out.append(
            f"<h3>{esc(r.workflow)}/{esc(r.phase)} — <span class='{label}'>{label}</span></h3>"
            f"<p>{esc(r.entry.summary)}</p><ul>"
        )
        out += [
            f"<li>{esc(c.candidate.model)} vs {esc(c.reference.model)} "
            f"({esc(c.method)}): {esc(c.explanation)}</li>"
            for c in r.entry.comparisons
        ]
        out.append("</ul>")
    if run.skipped:
        out.append("<h2>Not measured</h2><ul>")
        out += [f"<li>{esc(wf)}/{esc(ph)}: {esc(why)}</li>" for wf, ph, why in run.skipped]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def write_reports(run: MeasurementRun, directory: Path, stem: str) -> Sequence[Path]:
    """Write ``<stem>.measure.md`` and ``<stem>.measure.html`` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    title = f"Measurement report — {stem}"
    md = directory / f"{stem}.measure.md"
    page = directory / f"{stem}.measure.html"
    md.write_text(markdown_report(run, title), encoding="utf-8")
    page.write_text(html_report(run, title), encoding="utf-8")
    return (md, page)
