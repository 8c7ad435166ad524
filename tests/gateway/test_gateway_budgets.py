"""Budgets: reserve before the call, settle after, exact on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from access_support import pg_schema, plan_with

from phaseroute.errors import BudgetExceeded
from phaseroute.gateway._access import AccessControl
from phaseroute.gateway._budgets import BudgetBook, BudgetLine, Period, to_nano
from phaseroute.gateway._keys import KeyStore
from phaseroute.storage.database import open_engine

NOW = datetime(2026, 11, 30, 18, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, sqlite_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(sqlite_path)
    else:
        yield from pg_schema(request.getfixturevalue("postgres_url"))


@pytest.fixture
def book(location: str) -> Iterator[BudgetBook]:
    engine = open_engine(location)
    yield BudgetBook(engine)
    engine.dispose()


def test_periods_are_utc_calendar_days_and_months() -> None:
    assert Period.day.key(NOW) == "day:2026-11-30"
    assert Period.month.key(NOW) == "month:2026-11"
    assert Period.day.end(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert Period.month.end(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert Period.month.end(december) == datetime(2027, 1, 1, tzinfo=UTC)
    assert to_nano(Decimal("0.0000000001")) == 1  # rounded up: never under-counted


def test_reserve_until_the_budget_is_spent(book: BudgetBook) -> None:
    line = BudgetLine("workflow:wf", Period.day, Decimal(1))
    held = [book.reserve([line], Decimal("0.3"), NOW) for _ in range(3)]
    with pytest.raises(BudgetExceeded) as info:
        book.reserve([line], Decimal("0.3"), NOW)
    refusal = info.value
    assert refusal.status == 429
    assert refusal.retry_after_s == 6 * 3600  # 18:00 to midnight UTC
    assert "the daily budget of workflow 'wf' is spent for 2026-11-30" in str(refusal)
    assert "$0.900000 held by calls in flight" in str(refusal)
    use = book.use("workflow:wf", "day:2026-11-30")
    assert (use.spent_usd, use.reserved_usd, use.calls) == (0, Decimal("0.9"), 0)
    book.settle(held[0], Decimal("0.1"))  # cheaper than estimated: the rest is freed
    book.settle(held[1], None)  # unknown cost: the estimate is charged
    use = book.use("workflow:wf", "day:2026-11-30")
    assert (use.spent_usd, use.reserved_usd, use.calls) == (Decimal("0.4"), Decimal("0.3"), 2)
    book.reserve([line], Decimal("0.3"), NOW)  # 0.4 + 0.3 + 0.3 = 1.0 fits exactly
    with pytest.raises(BudgetExceeded):
        book.reserve([line], Decimal("0.000000001"), NOW)
    # the next day starts from zero
    book.reserve([line], Decimal("1"), datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))


def test_a_refusal_on_one_budget_holds_nothing_on_the_others(book: BudgetBook) -> None:
    key = BudgetLine("key:abc", Period.month, Decimal(10))
    phase = BudgetLine("phase:wf/decide", Period.day, Decimal("0.5"))
    book.reserve([key, phase], Decimal("0.4"), NOW)
    with pytest.raises(BudgetExceeded) as info:
        book.reserve([key, phase], Decimal("0.4"), NOW)
    assert "phase 'wf/decide'" in str(info.value)
    assert book.use("key:abc", "month:2026-11").reserved_usd == Decimal("0.4")
    # the key's budget still has room for calls of other phases
    book.reserve([key], Decimal("9.6"), NOW)


def test_an_estimate_above_the_limit_is_refused_at_once(book: BudgetBook) -> None:
    with pytest.raises(BudgetExceeded) as info:
        book.reserve([BudgetLine("key:k", Period.day, Decimal(1))], Decimal(2), NOW)
    assert "this call may cost up to $2.000000" in str(info.value)


def test_access_control_reserves_on_key_workflow_and_phase(location: str) -> None:
    keys = KeyStore.open(location)
    issued = keys.create("ci", daily_usd=Decimal(1))
    keys.close()
    plan = plan_with({"wf": {"daily_usd": 3, "phases": {"decide": {"daily_usd": "0.5"}}}})
    access = AccessControl.open(plan, location, start=False, clock=lambda: NOW)

    async def scenario() -> None:
        caller = access.authenticate({"x-api-key": issued.secret})
        r1 = await access.reserve(caller, "wf", "decide", Decimal("0.5"))
        with pytest.raises(BudgetExceeded, match="phase 'wf/decide'"):
            await access.reserve(caller, "wf", "decide", Decimal("0.01"))
        await access.settle(r1, Decimal("0.2"))
        await access.reserve(caller, "wf", "screen", Decimal("0.8"))
        with pytest.raises(BudgetExceeded, match=f"key '{issued.key.key_id}'"):
            await access.reserve(caller, "wf", "screen", Decimal("0.01"))
        # no budget applies to an anonymous-like caller of `other`: nothing is held
        free = await access.reserve(
            type(caller)("zzzzzzzzzzzz", "x", None), "other", "solo", Decimal(100)
        )
        assert free.empty
        await access.settle(free, Decimal(100))

    try:
        asyncio.run(scenario())
    finally:
        access.close()
    engine = open_engine(location)
    try:
        book_use = BudgetBook(engine).use("workflow:wf", "day:2026-11-30")
    finally:
        engine.dispose()
    assert book_use.spent_usd == Decimal("0.2")
    assert book_use.reserved_usd == Decimal("0.8")
