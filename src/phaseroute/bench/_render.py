"""The benchmark result as JSON (for machines) and Markdown (for docs and reviews)."""

from __future__ import annotations

from typing import Any

from phaseroute.bench._evaluate import BenchResult, StrategyResult


def _spread(s: StrategyResult, attribute: str) -> dict[str, float] | None:
    found = s.spread(attribute)
    if found is None:
        return None
    mean, sd, low = found
    return {"mean": round(mean, 6), "sd": round(sd, 6), "min": round(low, 6)}


def pct(s: StrategyResult, attribute: str) -> str:
    """``mean ± sd (min …)`` in percent, or an em dash when unknown."""
    found = s.spread(attribute)
    if found is None:
        return "—"
    mean, sd, low = found
    return f"{100 * mean:.1f}% ± {100 * sd:.1f} (min {100 * low:.1f})"


def saving_pct(value: float) -> str:
    """A saving in percent; a negative one says what it costs more instead."""
    return f"{100 * value:.1f}%" if value >= 0 else f"{-100 * value:.1f}% more"


def saving_spread(s: StrategyResult) -> str:
    """The saving's ``mean ± sd (min …)``, never a negative number called a saving."""
    found = s.spread("saving")
    if found is None:
        return "—"
    mean, sd, low = found
    return f"{saving_pct(mean)} ± {100 * sd:.1f} (min {saving_pct(low)})"


def held(result: BenchResult, s: StrategyResult) -> str:
    floor = result.settings.floor
    if floor is None or not s.ran:
        return "—"
    k = s.floor_held(floor)
    n = len(s.outcomes)
    return f"{'yes' if k == n else 'no'} ({k}/{n})"


def exceedance_lines(result: BenchResult) -> list[str]:
    """For each per-item strategy: how often the realised holdout loss of a phase exceeded ε
    (the certified guarantee says at most δ of the time, up to sampling error)."""
    st = result.settings
    lines: list[str] = []
    for s in result.strategies:
        if s.exceeded is None or not s.ran:
            continue
        over, checked = s.exceeded
        share = over / checked if checked else 0.0
        lines.append(
            f"{s.label}: realised holdout loss above ε = {st.epsilon:g} in {over} of {checked} "
            f"phase × split pairs ({100 * share:.1f}%; δ = {st.risk:g})"
        )
    return lines


def headline(result: BenchResult) -> list[str]:
    """The lines every format starts with: the data, the reference, the rules."""
    d, st = result.data, result.settings
    models = ", ".join(
        f"{m.name} ({100 * m.mean_score:.1f}%"
        + (f", ${m.total_cost:,.2f} for all items" if m.total_cost is not None else ", no price")
        + ")"
        for m in d.models
    )
    decision = (
        f"floor {100 * st.floor:g}% of the top tier's holdout score"
        if st.floor is not None
        else f"per-phase margin {100 * (st.margin or 0):g} points"
    )
    return [
        f"{d.source.name}: {len(d.scores):,} items, {len(d.phases)} phases, "
        f"{len(d.models)} models (cheapest first): {models}",
        f"Reference (top tier): {d.models[d.reference].name}; cheapest: "
        f"{d.models[d.cheapest].name}",
        f"{st.repeats} splits (seeds {st.seeds[0]}–{st.seeds[-1]}), "
        f"{100 * st.split:g}% of each phase for calibration, the rest reported; {decision}; "
        f"alpha {st.alpha:g}",
        f"Scores: {d.scale_rule}. Tokens: {d.token_rule}. Cost: {d.cost_rule}; {d.price_version}.",
    ]


def as_json(result: BenchResult, plot: tuple[str, str] | None = None) -> dict[str, Any]:
    d, st = result.data, result.settings
    names = d.names
    return {
        "source": str(d.source),
        "items": len(d.scores),
        "phase_count": len(d.phases),
        "models": [
            {
                "name": m.name,
                "mean_score": round(m.mean_score, 6),
                "priced": m.priced,
                "catalogue_id": m.catalogue_id,
                "total_cost_usd": None if m.total_cost is None else round(m.total_cost, 6),
            }
            for m in d.models
        ],
        "reference": names[d.reference],
        "cheapest": names[d.cheapest],
        "settings": {
            "floor": st.floor,
            "margin": st.margin,
            "split": st.split,
            "seeds": list(st.seeds),
            "alpha": st.alpha,
            "kinds": st.kinds_source,
        },
        "rules": {"scores": d.scale_rule, "tokens": d.token_rule, "cost": d.cost_rule},
        "price_version": d.price_version,
        "strategies": [
            {
                "key": s.key,
                "label": s.label,
                "description": s.description,
                "ran": s.ran,
                "not_run": s.not_run,
                "score": _spread(s, "score"),
                "ratio_to_top": _spread(s, "ratio"),
                "cost_usd": _spread(s, "cost"),
                "saving": _spread(s, "saving"),
                "top_share": _spread(s, "top_share"),
                "floor_held": None if st.floor is None or not s.ran else s.floor_held(st.floor),
                "phase_loss_exceeded": None
                if s.exceeded is None
                else {"pairs": s.exceeded[0], "of": s.exceeded[1], "epsilon": st.epsilon},
                "per_seed": [
                    {
                        "seed": o.seed,
                        "score": round(o.score, 6),
                        "ratio_to_top": round(o.ratio, 6),
                        "cost_usd": None if o.cost is None else round(o.cost, 6),
                        "saving": None if o.saving is None else round(o.saving, 6),
                        "top_share": round(o.top_share, 6),
                    }
                    for o in s.outcomes
                ],
            }
            for s in result.strategies
        ],
        "suspicious_phases": [
            {"phase": p.phase, "detail": p.suspicious} for p in result.phases if p.suspicious
        ],
        "phases": [
            {
                "phase": p.phase,
                "items": p.items,
                "mean_scores": {n: round(v, 6) for n, v in zip(names, p.mean_scores, strict=True)},
                "suspicious": p.suspicious,
                "measured_routes": dict(zip(names, p.measured_routes, strict=True)),
                "last_reason": p.last_reason,
            }
            for p in result.phases
        ],
        "notes": list(result.notes),
        "plot": None if plot is None else {"png": plot[0], "svg": plot[1]},
        "seconds": round(result.seconds, 3),
    }


def routed_summary(result: BenchResult) -> list[str]:
    """Which phases measured routing moved off the reference, and how consistently."""
    d = result.data
    repeats = result.settings.repeats
    lines: list[str] = []
    for p in result.phases:
        moved = [
            f"{d.models[m].name} {k}/{repeats}"
            for m, k in enumerate(p.measured_routes)
            if k and m != d.reference
        ]
        if moved:
            lines.append(f"{p.phase} ({p.items} items): {', '.join(moved)}")
    return lines


def markdown(result: BenchResult, plot: tuple[str, str] | None = None) -> str:
    out = ["## Replay benchmark", ""]
    out += [f"- {line}" for line in headline(result)]
    out += [
        "",
        "| strategy | holdout score | ratio to top tier | cost (USD) | saving vs top | "
        "top-tier share | floor held |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in result.strategies:
        if not s.ran:
            out.append(f"| {s.label} | not run: {s.not_run} | | | | | |")
            continue
        cost = s.spread("cost")
        out.append(
            f"| {s.label} | {pct(s, 'score')} | {pct(s, 'ratio')} | "
            f"{'—' if cost is None else f'{cost[0]:,.2f}'} | {saving_spread(s)} | "
            f"{100 * (s.spread('top_share') or (0.0, 0.0, 0.0))[0]:.1f}% | {held(result, s)} |"
        )
    out.append("")
    out += [f"- **{s.label}**: {s.description}" for s in result.strategies]
    exceeded = exceedance_lines(result)
    if exceeded:
        out += ["", "**Per-phase guarantee check** (holdout):", ""]
        out += [f"- {line}" for line in exceeded]
    suspicious = [p for p in result.phases if p.suspicious]
    if suspicious:
        out += ["", "**Suspicious phases** (check the data before trusting any route):", ""]
        out += [f"- {p.phase}: {p.suspicious}" for p in suspicious]
    routed = routed_summary(result)
    out += ["", "**Measured routing moved off the reference** (repeats out of all):", ""]
    out += [f"- {line}" for line in routed] or ["- no phase"]
    if result.notes:
        out += ["", "**Notes**", ""] + [f"- {n}" for n in result.notes]
    if plot is not None:
        out += ["", f"Plot: {plot[0]} and {plot[1]}"]
    return "\n".join(out) + "\n"
