"""A recorded-outcome file as arrays the benchmark can slice: scores on 0..1, tokens, costs.

Scores are normalised with the file's observed range (min-max over every score in the file)
unless a nominal scale is given (e.g. 1..10 for a judge). Tokens come from the prompt text and,
when the file records one, each model's answer; without an answer the output is assumed to be
``output_tokens`` tokens (1 for MMLU, whose answers are a single letter). Costs are those
tokens priced by `PriceBook` (the `genai-prices` catalogue, or a price given on the command
line); a model without a price has unknown (NaN) costs, and the routing decisions then use a
documented proxy instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from phaseroute.costs import CustomPrice, PriceBook, PricedModel
from phaseroute.errors import DatasetError, Problem, RequestError
from phaseroute.providers import Usage, approximate_tokens
from phaseroute.recorded import RecordedOutcomes, read_recorded

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PricingOptions:
    """How to cost and order the file's models when the catalogue is not enough."""

    prices: Mapping[str, CustomPrice] = field(default_factory=dict)  # USD per Mtok overrides
    order: tuple[str, ...] | None = None  # cost order, cheapest first (for unpriced models)
    cheap: str | None = None  # the "uniform cheapest" model, if not the lowest priced
    reference: str | None = None  # the top tier; default: highest mean score
    scale: tuple[float, float] | None = None  # nominal score range; default: the file's
    output_tokens: int = 1  # assumed answer length when the file records no answer


@dataclass(frozen=True)
class ModelInfo:
    """One model of the file: its mean score (0..1, whole file) and what it costs."""

    name: str
    mean_score: float
    catalogue_id: str | None  # the catalogue entry that priced it (None: override or none)
    priced: bool
    total_cost: float | None  # USD for every item of the file, or None when unpriced


@dataclass(frozen=True, eq=False)
class BenchData:
    """Per-item arrays over the whole file; models are in cost order, cheapest first."""

    source: Path
    models: tuple[ModelInfo, ...]
    reference: int  # index into models
    cheapest: int  # index into models
    phases: tuple[str, ...]
    phase_of: IntArray  # (items,) phase index of every item
    scores: FloatArray  # (items, models) on 0..1
    costs: FloatArray  # (items, models) USD, NaN where unpriced
    decision_costs: FloatArray  # (items, models) what routing minimises: USD, or the proxy
    input_tokens: IntArray  # (items,)
    output_tokens: IntArray  # (items, models)
    scale: tuple[float, float]
    scale_rule: str
    token_rule: str
    cost_rule: str
    price_version: str
    notes: tuple[str, ...]
    prompts: tuple[str, ...] = ()  # per item, for per-item predictors

    @property
    def priced(self) -> bool:
        """Every model has a price, so costs and savings are in USD."""
        return all(m.priced for m in self.models)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)


def _require_all_scores(outcomes: RecordedOutcomes) -> None:
    problems: list[Problem] = []
    for item in outcomes:
        missing = [m for m in outcomes.models if m not in item.scores]
        if missing:
            problems.append(
                Problem(
                    f"item {item.item!r} has no score for {', '.join(missing)}",
                    file=str(outcomes.path),
                    line=item.line,
                    path="scores",
                    fix="every item needs a score from every model the file names",
                )
            )
            if len(problems) >= 20:
                break
    if problems:
        raise DatasetError(problems)


def _unknown_model(name: str, option: str, models: Sequence[str]) -> RequestError:
    return RequestError(
        [
            Problem(
                f"{option} {name!r} is not a model of the file",
                path=option,
                fix=f"use one of: {', '.join(models)}",
            )
        ]
    )


def _scale(
    outcomes: RecordedOutcomes, scale: tuple[float, float] | None
) -> tuple[tuple[float, float], str]:
    if scale is None:
        low, high = outcomes.score_min, outcomes.score_max
        if high <= low:
            raise DatasetError(
                [
                    Problem(
                        f"every score in the file is {low:g}: nothing to compare",
                        file=str(outcomes.path),
                        fix="pass --scale LOW:HIGH if the scores are on a known scale",
                    )
                ]
            )
        return (low, high), f"min-max over the file's scores ({low:g}..{high:g} → 0..1)"
    low, high = scale
    if not high > low:
        raise RequestError(
            [Problem(f"--scale {low:g}:{high:g} is empty", path="--scale", fix="e.g. 1:10")]
        )
    if outcomes.score_min < low or outcomes.score_max > high:
        raise DatasetError(
            [
                Problem(
                    f"scores run {outcomes.score_min:g}..{outcomes.score_max:g}, outside "
                    f"--scale {low:g}:{high:g}",
                    file=str(outcomes.path),
                    fix="widen --scale or leave it out to use the file's range",
                )
            ]
        )
    return (low, high), f"nominal scale {low:g}..{high:g} → 0..1 (--scale)"


def load_bench_data(path: str | Path, options: PricingOptions | None = None) -> BenchData:
    """Read a recorded-outcome file and cost it; raise `DatasetError` on a bad row."""
    options = options or PricingOptions()
    outcomes = read_recorded(path)
    _require_all_scores(outcomes)
    names = list(outcomes.models)
    for flag, value in (("--reference", options.reference), ("--cheap", options.cheap)):
        if value is not None and value not in names:
            raise _unknown_model(value, flag, names)
    for name in options.prices:
        if name not in names:
            raise _unknown_model(name, "--price", names)
    (low, high), scale_rule = _scale(outcomes, options.scale)
    items = outcomes.items
    n, m = len(items), len(names)
    scores = np.array([[it.scores[k] for k in names] for it in items], dtype=np.float64)
    scores = (scores - low) / (high - low)

    input_tokens = np.array([approximate_tokens(it.prompt) for it in items], dtype=np.int64)
    output_tokens = np.full((n, m), options.output_tokens, dtype=np.int64)
    answered = 0
    for i, it in enumerate(items):
        for j, k in enumerate(names):
            text = it.responses.get(k)
            if text is not None:
                output_tokens[i, j] = approximate_tokens(text)
                answered += 1
    if answered == n * m:
        token_rule = "input and output tokens approximated from the prompt and answer texts"
    else:
        token_rule = (
            "input tokens approximated from the prompt text; output tokens from the recorded "
            f"answers where present, else assumed {options.output_tokens} per answer "
            f"({answered} of {n * m} answers recorded; --output-tokens to change)"
        )

    book = PriceBook(
        {k: PricedModel(ref=k, override=options.prices.get(k)) for k in names},
    )
    costs = np.full((n, m), np.nan)
    for j, k in enumerate(names):
        probe = book.unit_prices(k)
        if probe is None:
            continue
        column = costs[:, j]
        for i in range(n):
            price = book.cost(k, Usage(int(input_tokens[i]), int(output_tokens[i, j])))
            column[i] = np.nan if price is None else float(price)
    priced = [bool(np.all(np.isfinite(costs[:, j]))) for j in range(m)]
    means = scores.mean(axis=0)
    notes: list[str] = []

    order = _cost_order(names, costs, priced, means, options, notes)
    perm = [names.index(k) for k in order]
    scores, costs, output_tokens = scores[:, perm], costs[:, perm], output_tokens[:, perm]
    priced = [priced[j] for j in perm]
    means = means[perm]
    if all(priced):
        decision_costs = costs
        cost_rule = "USD: approximate tokens × per-model prices"
    else:
        # rank-weighted tokens: monotone in the cost order, which is all routing needs
        ranks = np.arange(1, m + 1, dtype=np.float64)
        decision_costs = (input_tokens[:, None] + output_tokens).astype(np.float64) * ranks
        cost_rule = (
            "unknown for unpriced models: routing minimises tokens × rank in the cost order "
            "(a proxy); USD costs and savings are not reported"
        )

    reference = (
        order.index(options.reference)
        if options.reference is not None
        else int(np.argmax(means))  # first maximum: the cheaper of tied models
    )
    cheapest = order.index(options.cheap) if options.cheap is not None else 0
    if reference == 0 and m > 1:
        notes.append(
            f"the reference {order[0]} is also the cheapest model: no strategy can save anything"
        )
    models = tuple(
        ModelInfo(
            name=k,
            mean_score=float(means[j]),
            catalogue_id=None if k in options.prices else book.catalogue_id(k),
            priced=priced[j],
            total_cost=float(costs[:, j].sum()) if priced[j] else None,
        )
        for j, k in enumerate(order)
    )
    phase_names = tuple(outcomes.phases)
    index = {p: i for i, p in enumerate(phase_names)}
    return BenchData(
        source=outcomes.path,
        models=models,
        reference=reference,
        cheapest=cheapest,
        phases=phase_names,
        phase_of=np.array([index[it.phase] for it in items], dtype=np.int64),
        scores=scores,
        costs=costs,
        decision_costs=decision_costs,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        scale=(low, high),
        scale_rule=scale_rule,
        token_rule=token_rule,
        cost_rule=cost_rule,
        price_version=book.version,
        notes=tuple(notes),
        prompts=tuple(it.prompt for it in items),
    )


def _cost_order(
    names: list[str],
    costs: FloatArray,
    priced: list[bool],
    means: FloatArray,
    options: PricingOptions,
    notes: list[str],
) -> list[str]:
    """Models cheapest first: by total cost when all are priced, else `--order`, else by
    mean score (the stated assumption that a better model costs more)."""
    if options.order is not None:
        given = list(options.order)
        unknown = [k for k in given if k not in names]
        if unknown:
            raise _unknown_model(unknown[0], "--order", names)
        missing = [k for k in names if k not in given]
        if missing or len(set(given)) != len(given):
            raise RequestError(
                [
                    Problem(
                        "--order must list every model of the file exactly once, cheapest first",
                        path="--order",
                        fix=f"add {', '.join(missing)}" if missing else "remove the repeat",
                    )
                ]
            )
        return given
    unpriced = [k for k, ok in zip(names, priced, strict=True) if not ok]
    if not unpriced:
        totals = costs.sum(axis=0)
        return [names[j] for j in sorted(range(len(names)), key=lambda j: (totals[j], j))]
    by_score = [names[j] for j in sorted(range(len(names)), key=lambda j: (means[j], j))]
    notes.append(
        f"no price for {', '.join(unpriced)} in the catalogue: costs are unknown, and the cost "
        f"order is assumed to follow the mean score ({' < '.join(by_score)}) — pass "
        "--price MODEL=IN:OUT (USD per million tokens) or --order CHEAPEST,...,DEAREST"
    )
    return by_score


def parse_price(text: str) -> tuple[str, CustomPrice]:
    """``MODEL=IN:OUT`` (USD per million input and output tokens) as a price override."""
    model, sep, rest = text.rpartition("=")
    parts = rest.split(":")
    fix = "write MODEL=IN:OUT in USD per million tokens, e.g. my-model=0.5:1.5"
    if not sep or not model or len(parts) != 2:
        raise RequestError([Problem(f"--price {text!r} is not MODEL=IN:OUT", fix=fix)])
    try:
        unit_in, unit_out = (Decimal(p) for p in parts)
    except ArithmeticError:
        raise RequestError(
            [Problem(f"--price {text!r} has a price that is not a number", fix=fix)]
        ) from None
    if not (unit_in.is_finite() and unit_out.is_finite()) or min(unit_in, unit_out) < 0:
        raise RequestError([Problem(f"--price {text!r} must be two prices ≥ 0", fix=fix)])
    return model, CustomPrice(unit_in, unit_out)
