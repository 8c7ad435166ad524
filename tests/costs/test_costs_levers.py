"""Cache and batch prices against genai-prices for every model in the examples, and the
cost levers (routing, caching, batches) side by side."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest
from genai_prices import types as gp
from project_paths import ROOT

from phaseroute.costs import (
    CACHE_WRITES_PER_DAY,
    DEFAULT_BATCH_DISCOUNT,
    PriceBook,
    project_levers,
)
from phaseroute.policy import load_plan
from phaseroute.providers import Usage

EXAMPLES = sorted((ROOT / "examples").glob("*/*.yaml"))
CACHED = Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=5000, cache_write_tokens=800)
NOW = datetime.now(tz=UTC)


def example_models() -> list[tuple[Path, str]]:
    out = []
    for path in EXAMPLES:
        try:
            plan = load_plan(path)
        except Exception:
            continue
        out.extend((path, name) for name in plan.models)
    return out


MODELS = example_models()


def catalogue(usage: Usage, ref: str, provider: str | None, batch: bool) -> Decimal:
    return genai_prices.calc_price(
        gp.Usage(
            input_tokens=usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        ref,
        provider_id=provider,
        genai_request_timestamp=NOW,
        price_context={"processing": "batch"} if batch else None,
    ).total_price


def test_the_examples_have_models() -> None:
    assert {name for _, name in MODELS} >= {"haiku", "sonnet", "opus"}


@pytest.mark.parametrize(
    ("path", "model"), MODELS, ids=[f"{p.parent.name}/{p.stem}:{m}" for p, m in MODELS]
)
def test_cache_and_batch_prices_match_genai_prices(path: Path, model: str) -> None:
    book = PriceBook.from_policy(load_plan(path).policy)
    priced = book.models[model]
    if priced.override is not None or book.catalogue_id(priced.ref, priced.provider_id) is None:
        pytest.skip(f"{model} is priced by the policy, not the catalogue")
    found = genai_prices.data_snapshot.get_snapshot().find_provider_model(
        book.catalogue_id(priced.ref, priced.provider_id) or priced.ref,
        None,
        priced.provider_id,
        None,
    )
    ref, provider = found[1].id, found[0].id
    # Cache reads and writes are priced as such, never as plain input.
    cached = book.cost(model, CACHED, at=NOW)
    assert cached == catalogue(CACHED, ref, provider, batch=False)
    plain = book.cost(model, Usage(CACHED.input_tokens + 5800, 300), at=NOW)
    assert plain is not None
    assert cached is not None
    assert cached <= plain  # equal only for a model the catalogue has no cache price for
    # Batch: the catalogue's batch price where it has one, else the documented discount.
    batch = book.cost(model, Usage(1200, 300, 5000, 800, batch=True), at=NOW)
    source = book.batch_price_source(model, at=NOW)
    assert source is not None
    if "batch price" in source and "discount" not in source:
        assert batch == catalogue(CACHED, ref, provider, batch=True)
    else:
        assert batch == cached * (1 - DEFAULT_BATCH_DISCOUNT)
        assert "50% batch discount (phaseroute's default)" in source
    assert batch < cached


def test_a_policy_batch_discount_overrides_the_default_and_is_named(tmp_path: Path) -> None:
    text = (ROOT / "examples/aml/phaseroute.yaml").read_text()
    text = text.replace(
        "api_key: env:ANTHROPIC_API_KEY",
        "api_key: env:ANTHROPIC_API_KEY\n    batch_discount: 0.3",
        1,
    )
    text = text.replace(
        "id: claude-opus-5-5,",
        "id: claude-opus-5-5, price: {input_per_mtok: 10, output_per_mtok: 50},",
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    book = PriceBook.from_policy(load_plan(path).policy)
    plain = book.cost("opus", Usage(1000, 100))
    batch = book.cost("opus", Usage(1000, 100, batch=True))
    assert plain is not None
    assert batch == plain * Decimal("0.7")
    assert book.batch_price_source("opus") == (
        "the policy's price less 30% batch discount (providers.anthropic.batch_discount)"
    )


def test_levers_each_alone_and_together_on_the_aml_example() -> None:
    plan = load_plan(ROOT / "examples/aml/phaseroute.yaml")
    book = PriceBook.from_policy(plan.policy)
    levers = project_levers(plan, book)
    (w,) = levers.workflows
    d = w.daily
    assert d.routing < d.uniform_top
    assert d.caching < d.uniform_top
    assert d.batch < d.uniform_top
    assert d.together < min(d.routing, d.caching, d.batch)
    by_phase = {p.phase: p for p in w.phases}
    screening = by_phase["intake_screening"]
    assert screening.batch
    assert screening.cacheable == 0.7
    # A phase without `batch: true` saves nothing by batches; one without a cacheable
    # prefix nothing by caching.
    interp = by_phase["compliance_interpretation"].daily
    assert interp.batch == interp.uniform_top
    assert levers.batch_sources["opus"].endswith("batch price")


def test_caching_cost_counts_reads_and_at_most_one_write_per_five_minutes() -> None:
    plan = load_plan(ROOT / "examples/aml/phaseroute.yaml")
    book = PriceBook.from_policy(plan.policy)
    levers = project_levers(plan, book)
    d = next(x for x in plan if x.phase == "intake_screening")
    assert d.tokens_in is not None
    assert d.tokens_out is not None
    prefix = round(d.tokens_in * 0.7)
    read = book.cost("opus", Usage(d.tokens_in - prefix, d.tokens_out, cache_read_tokens=prefix))
    write = book.cost("opus", Usage(d.tokens_in - prefix, d.tokens_out, cache_write_tokens=prefix))
    assert read is not None
    assert write is not None
    expected = read * (d.volume - CACHE_WRITES_PER_DAY) + write * CACHE_WRITES_PER_DAY
    phase = next(p for p in levers.workflows[0].phases if p.phase == "intake_screening")
    assert phase.daily.caching == expected


def test_cost_cli_reports_the_levers_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    from phaseroute.cli._app import run

    assert run(["cost", str(ROOT / "examples/aml/phaseroute.yaml"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    levers = doc["levers"]
    total = levers["total"]
    for lever in ("routing", "caching", "batch", "together"):
        assert Decimal(total[lever]["saving"]) > 0
    assert Decimal(total["together"]["saving"]) > Decimal(total["routing"]["saving"])
    assert set(levers["batch_price_sources"]) == {"haiku", "opus"}
    assert run(["cost", str(ROOT / "examples/aml/phaseroute.yaml")]) == 0
    out = capsys.readouterr().out
    for words in ("Cost levers", "prompt caching", "batch APIs", "together", "Batch price of"):
        assert words in out
