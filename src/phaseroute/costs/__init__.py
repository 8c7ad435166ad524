"""Pricing (the `genai-prices` catalogue plus policy overrides) and cost projection."""

from __future__ import annotations

from phaseroute.costs._pricing import CustomPrice, PriceBook, PricedModel, ref_candidates

__all__ = [
    "CustomPrice",
    "PriceBook",
    "PricedModel",
    "ref_candidates",
]
