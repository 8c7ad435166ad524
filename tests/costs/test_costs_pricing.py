"""PriceBook: known answers from the catalogue and from overrides, per-call tiers, unknown
models, recorded-outcome model references."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices import types as gp
from hypothesis import given, settings
from hypothesis import strategies as st

from phaseroute.costs import CustomPrice, PriceBook, PricedModel, ref_candidates
from phaseroute.policy import load_policy_text
from phaseroute.providers._base import Usage

POLICY = """
version: 1
tiers: [cheap, top]
providers:
  anthropic: {type: anthropic}
  compat: {type: openai_compat, base_url: "http://127.0.0.1:9/v1"}
models:
  small: {provider: anthropic, id: claude-haiku-5-5, tier: cheap}
  big: {provider: anthropic, id: claude-opus-5-5, tier: top}
  alias: {provider: compat, id: my-gateway-alias, price_ref: gpt-4o, tier: top}
  custom:
    provider: compat
    id: in-house-model
    tier: cheap
    price: {input_per_mtok: "0.25", output_per_mtok: "1.25", cache_read_per_mtok: "0.025"}
  mystery: {provider: compat, id: nobody-prices-this-model, tier: cheap}
workflows:
  wf:
    phases:
      p: {kind: screening, catastrophic_error: throughput}
"""

MTOK = Decimal(1_000_000)


def catalogue_price(ref: str, provider_id: str | None = None) -> gp.ModelPrice:
    """The catalogue's current price entry for `ref`, read directly from genai-prices."""
    _, model = data_snapshot.get_snapshot().find_provider_model(ref, None, provider_id, None)
    return model.get_prices(datetime.now(tz=UTC))


def plain(value: object) -> Decimal:
    assert isinstance(value, Decimal), f"expected a flat price, got {value!r}"
    return value


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.from_policy(load_policy_text(POLICY).policy)


def test_catalogue_known_answer(book: PriceBook) -> None:
    price = catalogue_price("claude-opus-5-5", "anthropic")
    p_in, p_out = plain(price.input_mtok), plain(price.output_mtok)
    # 1,800 input and 60 output tokens, priced by hand from the catalogue's unit prices.
    expected = (p_in * 1800 + p_out * 60) / MTOK
    assert book.cost("big", Usage(1800, 60)) == expected
    assert book.unit_prices("big") == (p_in, p_out)
    # The bundled data today: $4 in, $20 out per million tokens.
    if (p_in, p_out) == (Decimal(4), Decimal(20)):
        assert expected == Decimal("0.0084")


def test_cache_tokens_use_cache_prices(book: PriceBook) -> None:
    price = catalogue_price("claude-opus-5-5", "anthropic")
    p_in, p_out = plain(price.input_mtok), plain(price.output_mtok)
    p_cr, p_cw = plain(price.cache_read_mtok), plain(price.cache_write_mtok)
    assert p_cr < p_in < p_cw
    expected = (p_in * 1000 + p_out * 100 + p_cr * 5000 + p_cw * 2000) / MTOK
    assert book.cost("big", Usage(1000, 100, 5000, 2000)) == expected


def test_override_known_answer(book: PriceBook) -> None:
    # 0.25/M in, 1.25/M out, 0.025/M cache read; no cache-write price, so written tokens
    # are charged as input.
    cost = book.cost("custom", Usage(4000, 500, cache_read_tokens=10_000, cache_write_tokens=2000))
    assert cost == Decimal("0.001") + Decimal("0.000625") + Decimal("0.00025") + Decimal("0.0005")
    assert book.unit_prices("custom") == (Decimal("0.25"), Decimal("1.25"))


def test_price_ref_names_the_catalogue_entry(book: PriceBook) -> None:
    assert book.models["alias"] == PricedModel("gpt-4o", None, None)
    price = catalogue_price("gpt-4o")
    expected = (plain(price.input_mtok) * 2000 + plain(price.output_mtok) * 300) / MTOK
    assert book.cost("alias", Usage(2000, 300)) == expected


def test_provider_ids_follow_the_provider_type(book: PriceBook) -> None:
    assert book.models["small"].provider_id == "anthropic"
    assert book.models["mystery"].provider_id is None
    assert book.models["custom"].override == CustomPrice(
        Decimal("0.25"), Decimal("1.25"), Decimal("0.025"), None
    )


def test_tiered_prices_apply_per_call() -> None:
    price = catalogue_price("claude-sonnet-4-5", "anthropic")
    tiered = price.input_mtok
    assert isinstance(tiered, gp.TieredPrices), "the test needs a model with tiered input"
    threshold, high = tiered.tiers[0].start, tiered.tiers[0].price
    out = price.output_mtok
    out_base = plain(out.base if isinstance(out, gp.TieredPrices) else out)
    out_high = plain(out.tiers[0].price if isinstance(out, gp.TieredPrices) else out)
    book = PriceBook({"s": PricedModel("claude-sonnet-4-5", "anthropic")})
    big = threshold + 50_000
    half = big // 2
    # One call above the threshold pays the higher rate on every token ...
    assert book.cost("s", Usage(big, 100)) == (high * big + out_high * 100) / MTOK
    # ... two calls of half the size each stay at the base rate.
    two = book.cost("s", Usage(half, 50))
    assert two is not None
    assert two * 2 == (tiered.base * half * 2 + out_base * 100) / MTOK
    assert two * 2 < (high * big + out_high * 100) / MTOK


def test_unknown_model_costs_none_with_one_warning(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="phaseroute.costs"):
        assert book.cost("mystery", Usage(100, 10)) is None
        assert book.cost("mystery", Usage(200, 20)) is None
        assert book.unit_prices("mystery") is None
    records = [r for r in caplog.records if r.name == "phaseroute.costs"]
    assert len(records) == 1
    assert "nobody-prices-this-model" in records[0].getMessage()
    assert "price_ref" in records[0].getMessage()


def test_names_outside_the_policy_cost_none(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="phaseroute.costs"):
        assert book.cost("not-a-model", Usage(1, 1)) is None
    assert "not a model of this policy" in caplog.text


def test_negative_counts_cost_none_without_raising(book: PriceBook) -> None:
    assert book.cost("big", Usage(-5, 10)) is None
    assert book.cost("alias", Usage(10, 10, cache_read_tokens=-1)) is None


def test_mmlu_model_refs_resolve() -> None:
    book = PriceBook()
    strong = catalogue_price("gpt-4-1106-preview")
    expected = (plain(strong.input_mtok) * 1000 + plain(strong.output_mtok) * 1) / MTOK
    assert book.cost_for_ref("gpt-4-1106-preview", Usage(1000, 1)) == expected
    cheap = book.cost_for_ref("mistralai/Mixtral-8x7B-Instruct-v0.1", Usage(1000, 1))
    assert cheap is not None
    assert Decimal(0) < cheap < expected
    assert book.catalogue_id("mistralai/Mixtral-8x7B-Instruct-v0.1") == "mixtral-8x7b"


def test_ref_candidates_strip_org_and_variant() -> None:
    assert ref_candidates("mistralai/Mixtral-8x7B-Instruct-v0.1") == [
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "mixtral-8x7b-instruct-v0.1",
        "mixtral-8x7b",
    ]
    assert ref_candidates("gpt-4o") == ["gpt-4o"]


def test_version_names_package_and_data() -> None:
    assert PriceBook().version == f"genai-prices {genai_prices.__version__} (bundled data)"


def _token_priced_models() -> list[tuple[str, gp.ModelPrice]]:
    from phaseroute.costs._pricing import _TokenPrice

    out = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            price = model.get_prices(datetime.now(tz=UTC))
            if _TokenPrice.of(price) is not None:
                out.append((f"{provider.id}:{model.id}", price))
    return out


TOKEN_PRICED = _token_priced_models()
USAGES = [
    Usage(0, 0),
    Usage(1800, 60),
    Usage(150_000, 4000, 60_000, 1000),
    Usage(250_000, 900),
    Usage(3, 1_500_000, 7, 11),
]


def test_arithmetic_agrees_with_genai_prices_for_every_token_priced_model() -> None:
    """The per-token shortcut must give genai-prices' own Decimal for every catalogue entry."""
    from phaseroute.costs._pricing import _catalogue_usage, _TokenPrice

    assert len(TOKEN_PRICED) > 500
    for label, price in TOKEN_PRICED:
        fast = _TokenPrice.of(price)
        assert fast is not None
        for usage in USAGES:
            library = price.calc_price(_catalogue_usage(usage))["total_price"]
            assert fast.total(usage) == library, (label, usage)


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(min_value=0),
    counts=st.tuples(*(st.integers(min_value=0, max_value=2_000_000) for _ in range(4))),
)
def test_arithmetic_agrees_with_genai_prices_on_any_usage(
    index: int, counts: tuple[int, int, int, int]
) -> None:
    from phaseroute.costs._pricing import _catalogue_usage, _TokenPrice

    _, price = TOKEN_PRICED[index % len(TOKEN_PRICED)]
    usage = Usage(*counts)
    fast = _TokenPrice.of(price)
    assert fast is not None
    assert fast.total(usage) == price.calc_price(_catalogue_usage(usage))["total_price"]


def test_non_token_prices_go_through_genai_prices() -> None:
    from phaseroute.costs._pricing import _TokenPrice

    audio = gp.ModelPrice(
        input_mtok=Decimal(1), output_mtok=Decimal(2), input_audio_mtok=Decimal(9)
    )
    assert _TokenPrice.of(audio) is None
    book = PriceBook({"m": PricedModel("x", None, CustomPrice(Decimal(1), Decimal(2)))})
    assert book.cost("m", Usage(1_000_000, 500_000)) == Decimal(2)
