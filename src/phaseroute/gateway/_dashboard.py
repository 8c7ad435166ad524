"""The read-only dashboard (``GET /ui``): what a risk officer asks of a routed system.

Three questions, each answered with a plot where a person would rather look than read and
with numbers that carry their units: is routing saving money (spend against uniform use of
the top tier, over time and per phase)? Is quality holding (each production-checked phase's
live gap against the top tier, its anytime-valid interval and margin)? Is the record
intact (the audit trail's head, checkpoints, last verification, published head)? Budgets,
fallbacks and degraded calls sit beside them.

Server-rendered HTML with inline SVG: no script, no external asset, nothing to build.
`collect` reads the figures from the router's ledger and monitor; `render` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phaseroute.monitor import PhaseStatus, ProductionMonitor
    from phaseroute.runtime import Router


@dataclass(frozen=True, slots=True)
class PhaseRow:
    """One phase's route and its traffic."""

    workflow: str
    phase: str
    tier: str
    model: str
    basis: str
    rule: str
    calls: int
    cost: Decimal
    counterfactual: Decimal
    unpriced: int
    escalated: int
    fallbacks: int
    degraded: int
    failed: int


@dataclass(frozen=True, slots=True)
class BudgetGauge:
    """Spend against one budget in its current period."""

    scope: str  # e.g. "key ops-team", "workflow aml"
    period: str  # "day" | "month"
    limit: Decimal
    spent: Decimal


@dataclass(frozen=True, slots=True)
class AuditPanel:
    """The audit trail's state as the gateway knows it."""

    records: int
    head_seq: int
    checkpoints: int
    last_checkpoint_seq: int
    last_checkpoint_at: str | None
    last_verification: str | None = None  # e.g. "intact at 2026-11-30 18:02 UTC"
    head_published: str | None = None  # e.g. "size 4,211 to witness at ..."


@dataclass(frozen=True, slots=True)
class DashboardData:
    policy: str
    policy_hash: str
    generated_at: datetime
    phases: Sequence[PhaseRow]
    series: Sequence[tuple[str, Decimal, Decimal]]  # (period, routed cost, top-tier cost)
    production: Sequence[PhaseStatus] = ()
    budgets: Sequence[BudgetGauge] = ()
    audit: AuditPanel | None = None
    notes: Sequence[str] = field(default_factory=tuple)


def collect(
    router: Router,
    *,
    policy: str,
    monitor: ProductionMonitor | None = None,
    budgets: Sequence[BudgetGauge] = (),
    audit: AuditPanel | None = None,
) -> DashboardData:
    """The figures, read from the router's plan, ledger and (when given) monitor."""
    plan = router.plan
    ledger = router.ledger
    totals = {}
    reliability: dict[tuple[str, str], tuple[int, int]] = {}
    series: list[tuple[str, Decimal, Decimal]] = []
    if ledger is not None:
        ledger.flush()
        totals = {(t.workflow, t.phase): t for t in ledger.totals()}
        reliability = ledger.reliability()
        for by in ("day", "hour", "minute"):  # the coarsest buckets that show a course
            series = ledger.series(by=by)
            if len(series) >= 3:
                break
    rows = []
    for key in plan.decisions:
        route = router.decide(*key)
        t = totals.get(key)
        fell_back, degraded = reliability.get(key, (0, 0))
        rows.append(
            PhaseRow(
                key[0],
                key[1],
                route.tier,
                route.model,
                route.basis,
                route.rule,
                t.calls if t else 0,
                t.cost if t else Decimal(0),
                t.counterfactual_cost if t else Decimal(0),
                t.unpriced if t else 0,
                t.escalated if t else 0,
                fell_back,
                degraded,
                (t.unavailable + t.incomplete) if t else 0,
            )
        )
    return DashboardData(
        policy=policy,
        policy_hash=plan.policy_hash,
        generated_at=datetime.now(UTC),
        phases=rows,
        series=series,
        production=monitor.status() if monitor is not None else (),
        budgets=budgets,
        audit=audit,
    )


# ---------------------------------------------------------------------- formatting


def _usd(value: Decimal) -> str:
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:,.4f}"


def _pct(part: Decimal, whole: Decimal) -> str:
    return "—" if whole <= 0 else f"{100 * part / whole:.1f}%"


def _pt(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f} pt"


def _when(stamp: str) -> str:
    """An ISO-8601 time as a person reads it: ``2026-11-30 19:45 UTC``."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _saving_sentence(saving: Decimal, counterfactual: Decimal) -> str:
    if counterfactual <= 0:
        return "No priced routed calls yet."
    if saving >= 0:
        return (
            f"Routing saved <b>{_usd(saving)}</b> ({_pct(saving, counterfactual)}) against "
            "sending every call to the top tier."
        )
    return (
        f"Routing cost <b>{_usd(-saving)} more</b> ({_pct(-saving, counterfactual)}) than "
        "sending every call to the top tier — check the tier order and prices."
    )


# ---------------------------------------------------------------------- plots


def _spend_chart(series: Sequence[tuple[str, Decimal, Decimal]]) -> str:
    """Per period: the top-tier counterfactual (grey) behind the routed spend (blue)."""
    if not series:
        return '<p class="empty">No routed calls recorded yet.</p>'
    width, height, left, bottom, top = 720, 240, 64, 36, 12
    plot_w, plot_h = width - left - 12, height - bottom - top
    peak = max(max(cf, c) for _, c, cf in series) or Decimal(1)
    slot = plot_w / len(series)
    bar = max(min(slot * 0.7, 48), 2)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" class="chart" '
        f'aria-label="Spend per period: routed against uniform top tier">'
    ]
    for i in range(5):  # y grid and labels
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 12}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{escape(_usd(value))}</text>"
        )
    every = max(1, len(series) // 8)
    for i, (period, cost, cf) in enumerate(series):
        x = left + slot * i + (slot - bar) / 2
        h_cf = float(cf / peak) * plot_h
        h_c = float(cost / peak) * plot_h
        label = escape(period.replace("T", " ") + (":00" if len(period) == 13 else ""))
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h_cf:.1f}" width="{bar:.1f}" '
            f'height="{h_cf:.1f}" class="cf"><title>{label}: top tier {escape(_usd(cf))}'
            f"</title></rect>"
            f'<rect x="{x + bar * 0.2:.1f}" y="{top + plot_h - h_c:.1f}" width="{bar * 0.6:.1f}"'
            f' height="{h_c:.1f}" class="routed"><title>{label}: routed {escape(_usd(cost))}'
            f"</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" class="axis" '
                f'text-anchor="middle">{label}</text>'
            )
    parts.append(
        f'<g class="legend"><rect x="{left}" y="{height - 14}" width="12" height="10" '
        f'class="cf"/><text x="{left + 16}" y="{height - 5}">uniform top tier</text>'
        f'<rect x="{left + 140}" y="{height - 14}" width="12" height="10" class="routed"/>'
        f'<text x="{left + 156}" y="{height - 5}">routed (what was paid)</text></g></svg>'
    )
    return "".join(parts)


def _gap_chart(statuses: Sequence[PhaseStatus]) -> str:
    """Per phase: the interval of the gap (bar), the recent gap (dot), the margin (red)."""
    if not statuses:
        return (
            '<p class="empty">No phase has a production check. Add '
            "<code>shadow: {share: 0.02}</code> to a phase routed below the top tier.</p>"
        )
    lo = min(-0.05, *(s.watch.lower or 0 for s in statuses))
    hi = max(0.15, *((s.watch.upper or 0) for s in statuses), *(s.watch.margin for s in statuses))
    lo, hi = max(lo, -1.0), min(hi, 1.0)
    width, row, left, right = 720, 58, 24, 24
    height = row * len(statuses) + 44
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" class="chart" '
        'aria-label="Quality gap of each checked phase against the top tier">'
    ]
    step = 0.05 if hi - lo <= 0.4 else 0.1
    tick = round(lo / step) * step
    while tick <= hi + 1e-9:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="8" y2="{height - 28}" class="grid"/>'
            f'<text x="{x(tick):.1f}" y="{height - 12}" class="axis" text-anchor="middle">'
            f"{100 * tick:+.0f} pt</text>"
        )
        tick += step
    for i, s in enumerate(statuses):
        w = s.watch
        y = 40 + row * i
        parts.append(
            f'<text x="{left}" y="{y - 18}" class="label">'
            f"{escape(s.workflow)}/{escape(s.phase)}</text>"
            f'<line x1="{x(w.margin):.1f}" x2="{x(w.margin):.1f}" y1="{y - 14}" y2="{y + 14}" '
            f'class="margin"><title>margin {_pt(w.margin)}</title></line>'
        )
        if w.lower is not None and w.upper is not None:
            span = max(x(w.upper) - x(w.lower), 2)
            parts.append(
                f'<rect x="{x(w.lower):.1f}" y="{y - 6}" width="{span:.1f}" height="12" rx="3"'
                f' class="interval {w.state.value}"><title>interval '
                f"{_pt(w.lower)} to {_pt(w.upper)} after {w.pairs:,} pairs</title></rect>"
            )
        if w.gap is not None:
            parts.append(
                f'<circle cx="{x(w.gap):.1f}" cy="{y}" r="6" class="gap"><title>recent gap '
                f"{_pt(w.gap)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------- page

_CSS = """
:root { --ink:#1d2330; --muted:#5b6474; --line:#d9dee7; --blue:#2f6fd6; --grey:#c5ccd8;
        --red:#c4314b; --green:#1f8a4c; --amber:#b7791f; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #f6f7f9; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 16px 32px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: var(--muted); font-size: 14px; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 20px 24px;
          margin-bottom: 24px; }
h2 { font-size: 19px; margin: 0 0 4px; }
.lead { margin: 0 0 16px; color: var(--muted); }
.figures { display: flex; gap: 32px; flex-wrap: wrap; margin: 8px 0 16px; }
.figure b { display: block; font-size: 26px; }
.figure span { color: var(--muted); font-size: 14px; }
table { border-collapse: collapse; width: 100%; font-size: 15px; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
td.num { white-space: nowrap; }
.scroll { overflow-x: auto; }
th { font-weight: 600; color: var(--muted); font-size: 13px; text-transform: uppercase;
     letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { width: 100%; height: auto; max-width: 900px; }
.chart .grid { stroke: var(--line); } .chart .axis { fill: var(--muted); font-size: 12px; }
.chart .label { font-size: 14px; fill: var(--ink); }
.chart .cf { fill: var(--grey); } .chart .routed { fill: var(--blue); }
.chart .legend text { font-size: 13px; fill: var(--muted); }
.chart .margin { stroke: var(--red); stroke-width: 2; stroke-dasharray: 4 3; }
.chart .interval { fill: #9db8e8; } .chart .interval.drifted { fill: #e9a3b0; }
.chart .interval.holding { fill: #9fd6b4; } .chart .gap { fill: var(--ink); }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 14px;
         font-weight: 600; }
.badge.holding, .badge.ok { background: #e3f4ea; color: var(--green); }
.badge.watching { background: #fbf0dc; color: var(--amber); }
.badge.drifted, .badge.bad { background: #fbe5e9; color: var(--red); }
.bar { background: #eef1f5; border-radius: 4px; height: 10px; width: 160px; display: inline-block;
       vertical-align: middle; margin-right: 8px; }
.bar i { display: block; height: 10px; border-radius: 4px; background: var(--blue); }
.bar i.over { background: var(--red); }
.empty { color: var(--muted); }
small { color: var(--muted); font-size: 13px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 24px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; }
@media print { body { background: #fff; } section { break-inside: avoid; border: none; }
               header { border: none; } }
"""


def _exceptions(r: PhaseRow) -> str:
    parts = [
        f"{n:,} {word}"
        for n, word in (
            (r.fallbacks, "fell back"),
            (r.degraded, "degraded"),
            (r.escalated, "escalated"),
            (r.failed, "failed"),
        )
        if n
    ]
    return ", ".join(parts) or "none"


def _phase_table(rows: Sequence[PhaseRow]) -> str:
    head = (
        "<tr><th>Phase</th><th>Route and why</th><th class=num>Calls</th>"
        "<th class=num>Spend</th><th class=num>Top tier would cost</th>"
        "<th class=num>Saved</th><th>Fallbacks, degraded, escalated, failed</th></tr>"
    )
    body = []
    for r in rows:
        saving = r.counterfactual - r.cost
        unpriced = f" <small>(+{r.unpriced:,} unpriced)</small>" if r.unpriced else ""
        body.append(
            f"<tr><td>{escape(r.workflow)}/{escape(r.phase)}</td>"
            f"<td>{escape(r.tier)} · {escape(r.model)}<br><small>{escape(r.rule)} "
            f"({escape(r.basis)})</small></td>"
            f"<td class=num>{r.calls:,}</td><td class=num>{_usd(r.cost)}{unpriced}</td>"
            f"<td class=num>{_usd(r.counterfactual)}</td>"
            f"<td class=num>{_usd(saving)} ({_pct(saving, r.counterfactual)})</td>"
            f"<td>{_exceptions(r)}</td></tr>"
        )
    return f"<div class=scroll><table>{head}{''.join(body)}</table></div>"


def _production_table(statuses: Sequence[PhaseStatus]) -> str:
    if not statuses:
        return ""
    head = (
        "<tr><th>Phase</th><th>Compared</th><th class=num>Pairs</th><th class=num>Recent gap</th>"
        "<th class=num>Interval</th><th class=num>Margin</th><th>State</th>"
        "<th class=num>Shadow spend</th></tr>"
    )
    body = []
    for s in statuses:
        w = s.watch
        interval = "—" if w.lower is None else f"{_pt(w.lower)} to {_pt(w.upper)}"
        words = {
            "holding": "holding: within the margin",
            "watching": "watching: not yet shown within the margin",
            "drifted": "drifted: alarm raised",
        }[w.state.value]
        if s.reverted:
            words += ", reverted to the top tier"
        body.append(
            f"<tr><td>{escape(s.workflow)}/{escape(s.phase)}</td>"
            f"<td>{escape(s.routed_model)} vs {escape(s.top_model)}</td>"
            f"<td class=num>{w.pairs:,}</td><td class=num>{_pt(w.gap)}</td>"
            f"<td class=num>{interval}</td><td class=num>{_pt(w.margin)}</td>"
            f'<td><span class="badge {w.state.value}">{escape(words)}</span></td>'
            f"<td class=num>{_usd(s.shadow_cost)}</td></tr>"
        )
    return f"<div class=scroll><table>{head}{''.join(body)}</table></div>"


def _budgets(budgets: Sequence[BudgetGauge]) -> str:
    if not budgets:
        return '<p class="empty">No budgets are configured.</p>'
    rows = []
    for b in budgets:
        share = float(b.spent / b.limit) if b.limit > 0 else 1.0
        cls = "over" if share >= 1 else ""
        rows.append(
            f"<tr><td>{escape(b.scope)}</td><td>per {escape(b.period)}</td>"
            f'<td><span class="bar"><i class="{cls}" style="width:{min(share, 1) * 100:.0f}%">'
            f"</i></span>{100 * share:.0f}%</td><td class=num>{_usd(b.spent)} of "
            f"{_usd(b.limit)}</td></tr>"
        )
    return (
        "<table><tr><th>Budget</th><th>Period</th><th>Used</th><th class=num>Spent</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _audit(panel: AuditPanel | None) -> str:
    if panel is None:
        return '<p class="empty">No audit trail is configured for this gateway.</p>'
    uncovered = panel.head_seq - panel.last_checkpoint_seq
    signed = (
        '<span class="badge ok">every record is under a signed checkpoint</span>'
        if uncovered == 0
        else f'<span class="badge watching">the newest {uncovered:,} record(s) not yet under '
        "a signed checkpoint</span>"
    )
    items = [
        ("Records", f"{panel.records:,} (head at #{panel.head_seq:,})"),
        ("Signed checkpoints", "none yet" if not panel.checkpoints else
         f"{panel.checkpoints:,}, the last covering records up to #{panel.last_checkpoint_seq:,}"
         + (f", signed {escape(_when(panel.last_checkpoint_at))}" if panel.last_checkpoint_at
            else "")),
        ("Coverage", signed),
        ("Last verification", escape(panel.last_verification or "not verified by this gateway")),
        ("Head published", escape(panel.head_published or "no witness configured")),
    ]  # fmt: skip
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def render(data: DashboardData) -> str:
    """The whole page: self-contained HTML."""
    cost = sum((r.cost for r in data.phases), Decimal(0))
    cf = sum((r.counterfactual for r in data.phases), Decimal(0))
    calls = sum(r.calls for r in data.phases)
    drifted = [s for s in data.production if s.watch.state.value == "drifted"]
    quality_lead = (
        f"<b>{len(drifted)} phase(s) drifted</b>: the cheaper model is shown worse than the "
        "margin allows."
        if drifted
        else "No phase has drifted: no cheaper route is shown worse than its margin."
    )
    generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>phaseroute · {escape(data.policy)}</title><style>{_CSS}</style></head>
<body><header><h1>phaseroute — {escape(data.policy)}</h1>
<p>Policy {escape(data.policy_hash[:12])} · figures as of {generated} · read-only</p></header>
<main>
<section id="spend"><h2>Is routing saving money?</h2>
<p class="lead">{_saving_sentence(cf - cost, cf)}</p>
<div class="figures">
<div class="figure"><b>{calls:,}</b><span>routed calls</span></div>
<div class="figure"><b>{_usd(cost)}</b><span>spent</span></div>
<div class="figure"><b>{_usd(cf)}</b><span>uniform top tier would have cost</span></div>
<div class="figure"><b>{_pct(cf - cost, cf)}</b><span>saved</span></div>
</div>
{_spend_chart(data.series)}
{_phase_table(data.phases)}
</section>
<section id="quality"><h2>Is quality holding?</h2>
<p class="lead">{quality_lead} A share of live calls of each checked phase is also answered
by the top tier, off the caller's path. The bar is the 90% interval of the gap over the
recent pairs (top tier minus routed, in points), the dot the recent gap, the dashed red line
the margin. The alarm is a sequential test that may be looked at after every pair.</p>
{_gap_chart(data.production)}
{_production_table(data.production)}
</section>
<section id="budgets"><h2>Budgets</h2>{_budgets(data.budgets)}</section>
<section id="audit"><h2>Is the record intact?</h2>
<p class="lead">The tamper-evident audit trail of the phases a regulator reviews.</p>
{_audit(data.audit)}</section>
</main></body></html>
"""
