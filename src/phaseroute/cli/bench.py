"""``phaseroute bench``: the replay benchmark on any recorded-outcome file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phaseroute.cli._tables import Column, emit, emit_json, new_table, print_table
from phaseroute.errors import Problem, RequestError


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    outcomes: Annotated[
        Path,
        typer.Option(
            "--outcomes",
            help="Recorded-outcome JSONL file (.jsonl or .jsonl.gz).",
            show_default=False,
        ),
    ],
    floor: Annotated[
        float | None,
        typer.Option(
            help="Quality floor: routed holdout score ≥ FLOOR × the top tier's (default 0.95)."
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(help="Instead of a floor: per-phase non-inferiority margin (0..1 scale)."),
    ] = None,
    split: Annotated[float, typer.Option(help="Share of each phase used to decide.")] = 0.5,
    seed: Annotated[int, typer.Option(help="First seed; repeats use seed, seed+1, …")] = 0,
    repeats: Annotated[int, typer.Option(help="Number of seeded splits.")] = 5,
    alpha: Annotated[float, typer.Option(help="One-sided error level of every bound.")] = 0.05,
    kinds: Annotated[
        Path | None,
        typer.Option(
            help="YAML `phase: kind` mapping for the kind-defaults baseline (default: "
            "FILE's stem + .kinds.yaml beside it, else examples/<stem>/kinds.yaml)."
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(help="The top-tier model (default: the highest mean score)."),
    ] = None,
    cheap: Annotated[
        str | None,
        typer.Option(help="The uniform-cheapest model (default: the lowest cost)."),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(help="Cost order CHEAPEST,…,DEAREST for models without a price."),
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option(help="MODEL=IN:OUT, USD per million tokens (repeatable)."),
    ] = None,
    scale: Annotated[
        str | None,
        typer.Option(help="Nominal score range LOW:HIGH, e.g. 1:10 (default: the file's range)."),
    ] = None,
    output_tokens: Annotated[
        int, typer.Option(help="Assumed answer tokens where the file records no answer.")
    ] = 1,
    max_loss: Annotated[
        float | None,
        typer.Option(help="ε of certified per-item routing (default: 1 − floor)."),
    ] = None,
    delta: Annotated[
        float | None,
        typer.Option(help="δ of certified per-item routing (default: alpha)."),
    ] = None,
    per_item: Annotated[
        bool,
        typer.Option(help="Run the per-item strategies (certified, RouteLLM-style)."),
    ] = True,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write the cost–quality plot to PATH.png and PATH.svg."),
    ] = None,
) -> None:
    """Compare phase routing by measurement with uniform, intuition, random and oracle routing
    on recorded outcomes: decide on calibration items, report on held-out ones."""
    from phaseroute.bench import (
        BenchSettings,
        PricingOptions,
        load_bench_data,
        parse_price,
        plot_bench,
        read_kinds,
        run_bench,
    )

    kinds = kinds if kinds is not None else default_kinds(outcomes)
    settings = BenchSettings(
        floor=floor if floor is not None or margin is not None else 0.95,
        margin=margin,
        split=split,
        seed=seed,
        repeats=repeats,
        alpha=alpha,
        kinds=read_kinds(kinds) if kinds is not None else None,
        kinds_source=str(kinds) if kinds is not None else None,
        per_item=per_item,
        max_loss=max_loss,
        delta=delta,
    )
    if output_tokens < 0:
        raise RequestError(f"--output-tokens {output_tokens} must be 0 or more")
    options = PricingOptions(
        prices=dict(parse_price(p) for p in price or []),
        order=tuple(m.strip() for m in order.split(",")) if order else None,
        cheap=cheap,
        reference=reference,
        scale=_scale(scale),
        output_tokens=output_tokens,
    )
    err = Console(stderr=True, highlight=False)
    with err.status("reading and costing the recorded outcomes…"):
        data = load_bench_data(outcomes, options)
    with err.status(f"running {settings.repeats} splits…") as status:
        result = run_bench(
            data,
            settings,
            progress=lambda done, total: status.update(f"split {done}/{total} done…"),
        )
    files = None
    if plot is not None:
        try:
            drawn = plot_bench(result, plot)
        except OSError as e:
            raise RequestError(
                f"cannot write the plot to {plot}: {e.strerror or e} — name a writable path"
            ) from None
        files = (str(drawn.png), str(drawn.svg))
    from phaseroute.bench import as_json, markdown

    if fmt is Format.json:
        emit_json(as_json(result, files))
    elif fmt is Format.markdown:
        emit(markdown(result, files))
    else:
        console = Console(highlight=False)
        for part in render(result, files).renderables:
            if isinstance(part, Table):
                print_table(console, part)
            else:
                console.print(part)


def _scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError(text)
        return float(low), float(high)
    except ValueError:
        raise RequestError(
            [Problem(f"--scale {text!r} is not LOW:HIGH", path="--scale", fix="e.g. 1:10")]
        ) from None


def _cell(found: tuple[float, float, float] | None) -> str:
    if found is None:
        return "—"
    mean, sd, low = found
    return f"{100 * mean:.1f}% ± {100 * sd:.1f}\n[dim]min {100 * low:.1f}%[/]"


def _saving_cell(found: tuple[float, float, float] | None) -> str:
    from phaseroute.bench._render import saving_pct

    if found is None:
        return "—"
    mean, sd, low = found
    return f"{saving_pct(mean)} ± {100 * sd:.1f}\n[dim]min {saving_pct(low)}[/]"


def render(result: object, files: tuple[str, str] | None) -> Group:
    """The strategy table with the data's headline, suspicious phases and notes."""
    from phaseroute.bench import BenchResult
    from phaseroute.bench._render import exceedance_lines, headline, held, routed_summary

    assert isinstance(result, BenchResult)
    table = new_table(
        "Replay benchmark — decided on calibration, reported on holdout (mean ± sd, min)",
        [
            Column("strategy", kind="name"),
            Column("holdout\nscore", justify="right", kind="number"),
            Column("ratio to\ntop tier", justify="right", kind="number", style="bold"),
            Column("cost USD", justify="right", kind="number"),
            Column("saving\nvs top", justify="right", kind="number", style="green"),
            Column("top-tier\nshare", justify="right", kind="number"),
            Column("floor held", justify="right"),
        ],
    )
    for s in result.strategies:
        if not s.ran:
            table.add_row(escape(s.label), "[dim]not run[/]", f"[dim]{escape(s.not_run or '')}[/]")
            continue
        cost = s.spread("cost")
        share = s.spread("top_share")
        table.add_row(
            escape(s.label),
            _cell(s.spread("score")),
            _cell(s.spread("ratio")),
            "—" if cost is None else f"{cost[0]:,.2f}",
            _saving_cell(s.spread("saving")),
            "—" if share is None else f"{100 * share[0]:.1f}%",
            held(result, s),
        )
    parts: list[Table | Text] = [Text("\n".join(headline(result)), style="dim"), table]
    suspicious = [p for p in result.phases if p.suspicious]
    if suspicious:
        parts.append(
            Text(
                "Suspicious phases (check the data; they stay on the reference):\n"
                + "\n".join(f"  {p.phase}: {p.suspicious}" for p in suspicious),
                style="yellow",
            )
        )
    routed = routed_summary(result)
    parts.append(
        Text(
            "Measured routing moved off the reference (repeats out of all):\n"
            + ("\n".join(f"  {line}" for line in routed) or "  no phase")
        )
    )
    footer = [f"Guarantee check — {line}" for line in exceedance_lines(result)]
    footer += [f"Note: {n}" for n in result.notes]
    footer += [f"  {s.label}: {s.description}" for s in result.strategies]
    if files is not None:
        footer.append(f"Plot: {files[0]} and {files[1]}")
    footer.append(f"Benchmark ran in {result.seconds:.1f} s after reading and costing the file.")
    parts.append(Text("\n".join(footer), style="dim"))
    return Group(*parts)


def default_kinds(outcomes: Path) -> Path | None:
    """A kinds mapping that belongs to `outcomes`, if one exists where we look for it."""
    from phaseroute._jsonl import jsonl_stem

    stem = jsonl_stem(outcomes)
    for candidate in (
        outcomes.with_name(f"{stem}.kinds.yaml"),
        Path("examples") / stem / "kinds.yaml",
    ):
        if candidate.is_file():
            return candidate
    return None
