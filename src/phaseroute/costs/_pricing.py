"""Prices of model calls in USD, from the `genai-prices` catalogue with policy overrides.

`Usage.input_tokens` follows Anthropic's convention: input tokens *not* read from or
written to the prompt cache (an OpenAI-style provider subtracts its cached tokens). Calls
are priced one by one, because tiered prices (e.g. above 200k input tokens) apply per call.
Pricing never raises: an unknown model or unusable usage gives `None` and one log warning.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp

from phaseroute.policy import Policy
from phaseroute.providers._base import Usage

_log = logging.getLogger("phaseroute.costs")

# Provider config type -> genai-prices provider id (None: let the catalogue match the model).
_PROVIDER_IDS: Mapping[str, str | None] = {
    "anthropic": "anthropic",
    "openai_compat": None,
    "replay": None,
}
# Suffixes that name a variant of a model the catalogue prices under its base name.
_VARIANT_SUFFIX = re.compile(r"([-_:.](instruct|chat|hf|latest|v\d+(\.\d+)*))+$")


@dataclass(frozen=True, slots=True)
class CustomPrice:
    """Prices in USD per million tokens that replace the catalogue's for one model (from the
    policy's `models.<name>.price`)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None

    def model_price(self) -> gp.ModelPrice:
        return gp.ModelPrice(
            input_mtok=self.input_per_mtok,
            output_mtok=self.output_per_mtok,
            cache_read_mtok=self.cache_read_per_mtok,
            cache_write_mtok=self.cache_write_per_mtok,
        )


# The discount on batch calls where the catalogue has no batch price: both providers'
# batch APIs (Anthropic Message Batches, OpenAI Batch) are published at 50% of standard.
DEFAULT_BATCH_DISCOUNT = Decimal("0.5")
_BATCH_CONTEXT = {"processing": "batch"}


@dataclass(frozen=True, slots=True)
class PricedModel:
    """How one policy model is priced: its catalogue reference, provider, any override, and
    the discount for batch calls where the catalogue has no batch price (and who set it)."""

    ref: str
    provider_id: str | None = None
    override: CustomPrice | None = None
    batch_discount: Decimal = DEFAULT_BATCH_DISCOUNT
    batch_discount_origin: str = "phaseroute's default"


def ref_candidates(ref: str) -> list[str]:
    """Names to try for `ref` in order: as given, after the last '/', then without variant
    suffixes (``mistralai/Mixtral-8x7B-Instruct-v0.1`` -> ``mixtral-8x7b``)."""
    out = [ref]
    tail = ref.rsplit("/", 1)[-1].lower()
    out.append(tail)
    base = _VARIANT_SUFFIX.sub("", tail).replace("_", "-")
    out.append(base)
    return list(dict.fromkeys(c for c in out if c))


def _catalogue_usage(usage: Usage) -> gp.Usage:
    """genai-prices counts cache tokens inside `input_tokens`; phaseroute does not."""
    return gp.Usage(
        input_tokens=usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )


# Price keys whose cost for a phaseroute `Usage` is plain arithmetic (tool-call and storage
# counts are never reported, so they cost nothing here).
_TOKEN_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_ZERO_COUNT_KEYS = frozenset(
    {"cache_write_1h_mtok", "web_searches_kcount", "storage_searches_kcount"}
)
_MTOK = Decimal(1_000_000)
_KILO = Decimal(1000)


@dataclass(frozen=True, slots=True)
class _TokenPrice:
    """A catalogue price reduced to per-token arithmetic.

    genai-prices' own `calc_price` is general (any unit, any usage key) and takes about
    100 µs a call; a plain token price gives the same Decimal in a few µs. Prices with any
    other unit keep going through genai-prices (tests check both agree).
    """

    input: Decimal | gp.TieredPrices
    output: Decimal | gp.TieredPrices
    cache_read: Decimal | gp.TieredPrices | None
    cache_write: Decimal | gp.TieredPrices | None
    per_request_k: Decimal | None

    @classmethod
    def of(cls, price: gp.ModelPrice) -> _TokenPrice | None:
        keys = {k for k, v in vars(price).items() if v is not None and not k.startswith("_")}
        if not keys <= {*_TOKEN_KEYS, *_ZERO_COUNT_KEYS, "requests_kcount"}:
            return None
        unit_in, unit_out, cr, cw = (getattr(price, k) for k in _TOKEN_KEYS)
        if unit_in is None or unit_out is None:
            return None
        per_request_k = price.requests_kcount
        if isinstance(per_request_k, gp.TieredPrices):
            return None
        return cls(unit_in, unit_out, cr, cw, per_request_k)

    def total(self, usage: Usage) -> Decimal:
        total_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        plain_in = total_in
        cost = Decimal(0)
        if self.cache_read is not None:
            plain_in -= usage.cache_read_tokens
            cost += _at(self.cache_read, total_in) * usage.cache_read_tokens / _MTOK
        if self.cache_write is not None:
            plain_in -= usage.cache_write_tokens
            cost += _at(self.cache_write, total_in) * usage.cache_write_tokens / _MTOK
        cost += _at(self.input, total_in) * plain_in / _MTOK
        cost += _at(self.output, total_in) * usage.output_tokens / _MTOK
        if self.per_request_k is not None:
            cost += self.per_request_k / _KILO
        return cost


def _at(price: Decimal | gp.TieredPrices, total_input: int) -> Decimal:
    """The unit price that applies to a call with `total_input` input tokens (cliff tiers)."""
    if not isinstance(price, gp.TieredPrices):
        return price
    for tier in reversed(price.tiers):
        if total_input > tier.start:
            return tier.price
    return price.base


def _has_batch_price(model: gp.ModelInfo, at: datetime) -> bool:
    """Whether the catalogue prices batch calls of `model` itself (an active batch variant)."""
    return any(
        v.when.get("processing") == "batch" and (v.constraint is None or v.constraint.active(at))
        for v in model.price_variants or ()
    )


def _base_price(price: Decimal | gp.TieredPrices | None) -> Decimal | None:
    if isinstance(price, gp.TieredPrices):
        return price.base
    return price


class PriceBook:
    """Prices calls of a policy's models (and of bare catalogue references).

    Thread-safe; holds a lookup cache and the set of models already warned about, so each
    unknown model is logged once per book.
    """

    def __init__(
        self,
        models: Mapping[str, PricedModel] | None = None,
        snapshot: data_snapshot.DataSnapshot | None = None,
    ) -> None:
        self._models = dict(models or {})
        self._snapshot = snapshot if snapshot is not None else data_snapshot.get_snapshot()
        self._lock = threading.Lock()
        self._resolved: dict[tuple[str, str | None], tuple[gp.Provider, gp.ModelInfo] | None] = {}
        self._fast: dict[str, tuple[gp.ModelPrice, _TokenPrice | None]] = {}
        self._overrides = {
            name: m.override.model_price()
            for name, m in self._models.items()
            if m.override is not None
        }
        self._warned: set[str] = set()

    @classmethod
    def from_policy(cls, policy: Policy) -> PriceBook:
        """A book for every model of `policy`: `price_ref` or `id` in the catalogue, unless
        the policy overrides the price."""
        models: dict[str, PricedModel] = {}
        for name, m in policy.models.items():
            provider = policy.providers.get(m.provider)
            provider_id = _PROVIDER_IDS.get(provider.type) if provider is not None else None
            override = None
            if m.price is not None:
                override = CustomPrice(
                    m.price.input_per_mtok,
                    m.price.output_per_mtok,
                    m.price.cache_read_per_mtok,
                    m.price.cache_write_per_mtok,
                )
            set_discount = getattr(provider, "batch_discount", None)
            models[name] = PricedModel(
                m.price_ref or m.id,
                provider_id,
                override,
                DEFAULT_BATCH_DISCOUNT if set_discount is None else set_discount,
                "phaseroute's default"
                if set_discount is None
                else f"providers.{m.provider}.batch_discount",
            )
        return cls(models)

    @property
    def version(self) -> str:
        """The price data's version, recorded with every cost."""
        source = (
            f"data updated {self._snapshot.timestamp:%Y-%m-%d %H:%M}"
            if self._snapshot.from_auto_update
            else "bundled data"
        )
        return f"genai-prices {genai_prices.__version__} ({source})"

    @property
    def models(self) -> Mapping[str, PricedModel]:
        return dict(self._models)

    # ------------------------------------------------------------------ pricing

    def cost(self, model_name: str, usage: Usage, *, at: datetime | None = None) -> Decimal | None:
        """USD cost of one call of the policy model `model_name`; None if it has no price.

        `at` picks the catalogue's price in force at that time (default: now).
        """
        priced = self._models.get(model_name)
        if priced is None:
            self._warn(model_name, f"{model_name!r} is not a model of this policy")
            return None
        override = self._overrides.get(model_name)
        if override is not None:
            return self._discounted(priced, self._calc(model_name, override, usage), usage)
        found = self._resolve(priced.ref, priced.provider_id)
        if found is None:
            self._warn_unknown(model_name, priced.ref, priced.provider_id)
            return None
        when = at or datetime.now(tz=UTC)
        if usage.batch and _has_batch_price(found[1], when):
            price = found[1].get_prices(when, _BATCH_CONTEXT)
            return self._calc(f"{model_name}#batch", price, usage)
        cost = self._calc(model_name, found[1].get_prices(when), usage)
        return self._discounted(priced, cost, usage)

    def batch_price_source(self, model_name: str, *, at: datetime | None = None) -> str | None:
        """Where a batch call's price of `model_name` comes from, for every output that uses
        it: the catalogue's batch price, or a named discount on the standard price."""
        priced = self._models.get(model_name)
        if priced is None:
            return None
        if priced.override is None:
            found = self._resolve(priced.ref, priced.provider_id)
            if found is None:
                return None
            if _has_batch_price(found[1], at or datetime.now(tz=UTC)):
                return f"{self.version} batch price"
        base = "the policy's price" if priced.override is not None else self.version
        return (
            f"{base} less {(priced.batch_discount * 100).normalize():f}% batch discount "
            f"({priced.batch_discount_origin})"
        )

    @staticmethod
    def _discounted(priced: PricedModel, cost: Decimal | None, usage: Usage) -> Decimal | None:
        if cost is None or not usage.batch:
            return cost
        return cost * (1 - priced.batch_discount)

    def cost_for_ref(
        self,
        model_ref: str,
        usage: Usage,
        provider_id: str | None = None,
        *,
        at: datetime | None = None,
    ) -> Decimal | None:
        """USD cost of one call of the catalogue model `model_ref` (no policy needed)."""
        found = self._resolve(model_ref, provider_id)
        if found is None:
            self._warn_unknown(model_ref, model_ref, provider_id)
            return None
        return self._calc(model_ref, found[1].get_prices(at or datetime.now(tz=UTC)), usage)

    def unit_prices(self, model_name: str) -> tuple[Decimal, Decimal] | None:
        """(input, output) USD per million tokens of a policy model, below any tier; or None."""
        priced = self._models.get(model_name)
        if priced is None:
            return None
        if priced.override is not None:
            return (priced.override.input_per_mtok, priced.override.output_per_mtok)
        found = self._resolve(priced.ref, priced.provider_id)
        if found is None:
            return None
        price = found[1].get_prices(datetime.now(tz=UTC))
        unit_in = _base_price(price.input_mtok)
        unit_out = _base_price(price.output_mtok)
        if unit_in is None or unit_out is None:
            return None
        return (unit_in, unit_out)

    def catalogue_id(self, model_ref: str, provider_id: str | None = None) -> str | None:
        """The catalogue's id for `model_ref` (e.g. gpt-4-1106-preview -> gpt-4-turbo)."""
        found = self._resolve(model_ref, provider_id)
        return None if found is None else found[1].id

    # ------------------------------------------------------------------ internals

    def _resolve(
        self, ref: str, provider_id: str | None
    ) -> tuple[gp.Provider, gp.ModelInfo] | None:
        key = (ref, provider_id)
        with self._lock:
            if key in self._resolved:
                return self._resolved[key]
        found = None
        for candidate in ref_candidates(ref):
            try:
                found = self._snapshot.find_provider_model(candidate, None, provider_id, None)
            except (LookupError, ValueError):
                continue
            break
        with self._lock:
            self._resolved[key] = found
        return found

    def _calc(self, label: str, price: gp.ModelPrice, usage: Usage) -> Decimal | None:
        counts = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )
        if min(counts) < 0:
            self._warn(label, f"cannot price negative token counts {usage} for {label!r}")
            return None
        fast = self._fast.get(label)
        if fast is None or fast[0] is not price:
            fast = (price, _TokenPrice.of(price))
            with self._lock:
                self._fast[label] = fast
        if fast[1] is not None:
            return fast[1].total(usage)
        try:
            return price.calc_price(_catalogue_usage(usage))["total_price"]
        except (ValueError, ArithmeticError, TypeError) as e:
            self._warn(label, f"cannot price {usage} for {label!r}: {e}")
            return None

    def _warn_unknown(self, label: str, ref: str, provider_id: str | None) -> None:
        where = f" (provider {provider_id})" if provider_id else ""
        self._warn(
            label,
            f"no price for model {ref!r}{where} in {self.version}; its cost is unknown "
            f"— set `price_ref` to the catalogue's name or add a `price` override in the policy",
        )

    def _warn(self, label: str, message: str) -> None:
        with self._lock:
            if label in self._warned:
                return
            self._warned.add(label)
        _log.warning(message)
