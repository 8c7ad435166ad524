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

from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise

from phaseroute.errors import Problem
from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._schema import Policy

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
