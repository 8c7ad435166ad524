"""Tier order against the price catalogue: the order of `tiers` is the product's central fact.

`tiers` lists tiers cheapest first; every rule that says "cheap" or "strong" reads it. If the
catalogue prices a lower tier above a higher one, the routing silently inverts (the audit
phase "stays on the top tier", which is the cheap model). How tiers are compared:

- a tier is priced by its *primary* model — the first model listed with that tier, the one
  routing sends calls to and the one `cost` uses for uniform use; if that model has no price,
  by the tier's first priced model; a tier with no priced model is not compared;
- prices are compared per call on the policy's token mix: the phases' token profiles weighted
  by volume (1,000 input and 250 output tokens when no phase declares both);
- each priced tier must cost at least as much as the priced tier below it (equal is fine).

Prices come from the same book `cost` and the router use (`price` overrides included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING

from phaseroute.errors import Problem
from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._plan import ModelChoice, PhaseDecision
from phaseroute.policy._schema import Policy

if TYPE_CHECKING:
    from phaseroute.costs._pricing import PriceBook

DEFAULT_MIX = (1000, 250)
_MTOK = Decimal(1_000_000)


def token_mix(policy: Policy) -> tuple[int, int]:
    """Input and output tokens of one call on the policy's volume-weighted token mix."""
    calls = tokens_in = tokens_out = 0
    for wf in policy.workflows.values():
        for ph in wf.phases.values():
            if ph.tokens is None or ph.volume <= 0:
                continue
            calls += ph.volume
            tokens_in += ph.tokens.input * ph.volume
            tokens_out += ph.tokens.output * ph.volume
    if calls == 0:
        return DEFAULT_MIX
    return (round(tokens_in / calls), round(tokens_out / calls))


def tier_price_problems(loaded: LoadedPolicy, tiers: Sequence[str]) -> list[Problem]:
    """One problem per pair of priced tiers whose order the catalogue contradicts."""
    # Imported here: pricing depends on the policy package, not the other way round.
    from phaseroute.costs._pricing import PriceBook  # noqa: PLC0415

    policy = loaded.policy
    book = PriceBook.from_policy(policy)
    tokens_in, tokens_out = token_mix(policy)
    priced: list[tuple[int, str, str, Decimal]] = []  # (position, tier, model, cost per call)
    for position, tier in enumerate(tiers):
        for name, model in policy.models.items():
            if model.tier != tier:
                continue
            unit = book.unit_prices(name)  # silent for unpriced models (`cost` reports them)
            if unit is not None:
                cost = (unit[0] * tokens_in + unit[1] * tokens_out) / _MTOK
                priced.append((position, tier, name, cost))
                break
    problems = []
    for (pos_lo, lo, lo_model, lo_cost), (_, hi, hi_model, hi_cost) in pairwise(priced):
        if lo_cost <= hi_cost:
            continue
        order = ", ".join(_sorted_tiers(tiers, priced))
        problems.append(
            loaded.source.problem(
                ("tiers", pos_lo),
                f"tier order disagrees with the prices: {lo!r} is listed below {hi!r}, but its "
                f"model {lo_model!r} costs {_usd(lo_cost)} a call against {_usd(hi_cost)} for "
                f"{hi_model!r} ({book.version}, {tokens_in:,} input + {tokens_out:,} output "
                "tokens); every rule would route the wrong way",
                f"list tiers cheapest first (tiers: [{order}]), or, if the catalogue is wrong "
                f"for you, set models.{lo_model}.price to what you pay",
            )
        )
    return problems


def _sorted_tiers(tiers: Sequence[str], priced: list[tuple[int, str, str, Decimal]]) -> list[str]:
    """The tiers reordered by price (unpriced tiers keep their position among the rest)."""
    by_price = iter(sorted(priced, key=lambda p: (p[3], p[0])))
    priced_tiers = {p[1] for p in priced}
    return [next(by_price)[1] if t in priced_tiers else t for t in tiers]


def _usd(value: Decimal) -> str:
    places = 2 if abs(value) >= 1 else 6
    return f"${value.quantize(Decimal(1).scaleb(-places)):f}"


def budget_price_problems(
    loaded: LoadedPolicy, decisions: Mapping[tuple[str, str], PhaseDecision]
) -> tuple[list[Problem], list[Problem]]:
    """Errors and warnings for policy budgets that calls could escape.

    A phase in a budget's scope whose own model (or a per-item candidate) has no price is
    charged nothing, so the budget would never bite: an error. A call that falls back,
    degrades or escalates to an unpriced model is charged the estimate made for the phase's
    own model (see the gateway's budgets), which under-counts a dearer one: a warning.
    """
    policy = loaded.policy
    if not policy.budgets:
        return [], []
    from phaseroute.costs._pricing import PriceBook  # noqa: PLC0415

    book = PriceBook.from_policy(policy)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for wf_name, budget in policy.budgets.items():
        scopes: list[tuple[tuple[str, ...], list[str]]] = []
        if budget.daily_usd is not None or budget.monthly_usd is not None:
            scopes.append((("budgets", wf_name), list(policy.workflows[wf_name].phases)))
        scopes.extend(
            (("budgets", wf_name, "phases", ph_name), [ph_name]) for ph_name in budget.phases
        )
        for where, phases in scopes:
            served = [decisions[(wf_name, ph_name)] for ph_name in phases]
            routed = _unpriced(book, [m for d in served for m in _routed(d)])
            if routed:
                errors.append(
                    loaded.source.problem(
                        where,
                        f"this budget cannot be enforced: calls routed to {_names(routed)} "
                        "have no price, so they would be charged nothing",
                        f"{_price_fix(routed)}, or remove the budget",
                    )
                )
                continue
            spare = _unpriced(book, [m for d in served for m in _spares(d)])
            if spare:
                warnings.append(
                    loaded.source.problem(
                        where,
                        f"calls that fall back, degrade or escalate to {_names(spare)} (no "
                        "price) are charged the estimate made for the phase's own model",
                        _price_fix(spare),
                    )
                )
    return errors, warnings


def _routed(decision: PhaseDecision) -> list[ModelChoice]:
    """The models a call of the phase is routed to before anything fails."""
    per_item = decision.per_item.candidates if decision.per_item is not None else ()
    return [decision.model, *per_item]


def _spares(decision: PhaseDecision) -> list[ModelChoice]:
    """The models a call of the phase may move to after its route fails or falls short."""
    return [*decision.fallbacks, *decision.degrade_to, *decision.escalate_to]


def _unpriced(book: PriceBook, models: list[ModelChoice]) -> list[str]:
    return sorted({m.name for m in models if book.unit_prices(m.name) is None})


def _names(models: list[str]) -> str:
    return ", ".join(repr(n) for n in models)


def _price_fix(models: list[str]) -> str:
    return (
        f"set models.{models[0]}.price: {{input_per_mtok: N, output_per_mtok: M}} to what you pay"
    )
