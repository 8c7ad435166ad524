"""The cost levers (routing, caching, batches) as ``phaseroute cost`` shows them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.markup import escape
from rich.text import Text

from phaseroute.cli._tables import Column, PhaserouteTable, new_table
from phaseroute.costs import LEVERS, LeverCosts, LeverProjection

_NAMES = {
    "routing": "routing",
    "caching": "prompt caching",
    "batch": "batch APIs",
    "together": "together",
}


def _usd(value: Decimal) -> str:
    places = 2 if value == 0 or abs(value) >= 1 else 4
    return f"${value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,f}"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.000001')):f}"


def _saving(c: LeverCosts, lever: str) -> str:
    saving = c.saving(lever)
    if saving < 0:  # never printed as a saving
        return f"costs {_usd(-saving)} more"
    return f"{_usd(saving)} ({_pct(c.saving_pct(lever))})"


def _cells(costed: bool, c: LeverCosts) -> list[str]:
    """A row's figures; a workflow with no priced, costed phase is not summed as $0."""
    if not costed:
        return ["not costed"] * (len(LEVERS) + 1)
    return [_usd(c.uniform_top), *(_saving(c, lever) for lever in LEVERS)]


def levers_table(p: LeverProjection) -> PhaserouteTable:
    """Per workflow: what each lever saves per day against uniform top-tier use."""
    t = new_table(
        f"Cost levers — saving per day against uniform {p.top_model}, each alone and together",
        [
            Column("workflow", kind="name"),
            Column(f"uniform\n{escape(p.top_model)}", justify="right", kind="number"),
            *(
                Column(
                    _NAMES[lever],
                    justify="right",
                    kind="number",
                    style="bold" if lever == "together" else None,
                )
                for lever in LEVERS
            ),
        ],
    )
    rows = [(w.workflow, bool(w.phases), w.daily) for w in p.workflows]
    if len(rows) > 1:
        rows.append(("total", any(w.phases for w in p.workflows), p.daily))
    for name, costed, c in rows:
        t.add_row(escape(name), *_cells(costed, c))
    return t


def levers_notes(p: LeverProjection) -> Text:
    lines = [
        "Caching: each phase's `tokens.cacheable` share of input read from the prompt cache "
        "(written at most once per 5 minutes); batches: phases with `batch: true` only."
    ]
    for model, source in sorted(p.batch_sources.items()):
        lines.append(f"Batch price of {model}: {source}.")
    for w in p.workflows:
        if w.not_costed:
            lines.append(f"Levers leave out (not costed): {', '.join(w.not_costed)}.")
    return Text("\n".join(lines) + "\n", style="dim")


def levers_json(p: LeverProjection) -> dict[str, Any]:
    def costs(c: LeverCosts) -> dict[str, Any]:
        out: dict[str, Any] = {"uniform_top": _money(c.uniform_top)}
        for lever in LEVERS:
            pct = c.saving_pct(lever)
            out[lever] = {
                "daily": _money(getattr(c, lever)),
                "saving": _money(c.saving(lever)),
                "saving_pct": None if pct is None else f"{pct:.1f}",
            }
        return out

    return {
        "currency": "USD",
        "per": "day",
        "baseline": p.top_model,
        "batch_price_sources": dict(p.batch_sources),
        "workflows": [
            {
                "workflow": w.workflow,
                **costs(w.daily),
                "phases": [
                    {
                        "phase": ph.phase,
                        "model": ph.model,
                        "cacheable": ph.cacheable,
                        "batch": ph.batch,
                        **costs(ph.daily),
                    }
                    for ph in w.phases
                ],
                "not_costed": list(w.not_costed),
            }
            for w in p.workflows
        ],
        "total": costs(p.daily),
    }


def levers_markdown(p: LeverProjection) -> str:
    out = [
        "",
        "## Cost levers",
        "",
        f"Saving per day against uniform `{p.top_model}`, each lever alone and all together.",
        "",
        "| workflow | uniform top /day | routing | prompt caching | batch APIs | together |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for w in p.workflows:
        out.append(f"| {w.workflow} | " + " | ".join(_cells(bool(w.phases), w.daily)) + " |")
    out.append("")
    out.extend(f"- Batch price of `{m}`: {s}." for m, s in sorted(p.batch_sources.items()))
    return "\n".join(out)
