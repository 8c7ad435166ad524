"""The dashboard page: figures that match the ledger, units on every number, no raw data."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from phaseroute.costs import PriceBook
from phaseroute.gateway._dashboard import AuditPanel, BudgetGauge, DashboardData, collect, render
from phaseroute.policy import load_plan
from phaseroute.runtime import Router, UsageLedger
from phaseroute.testing.fake import FakeProvider, MemoryAuditTrail

POLICY = """
version: 1
tiers: [economy, frontier]
providers:
  main: {type: anthropic, api_key: env:PHASEROUTE_TEST_NO_SUCH_KEY}
models:
  small: {provider: main, id: claude-haiku-4-5, tier: economy}
  large: {provider: main, id: claude-opus-4-1, tier: frontier}
controls:
  analyst: {description: an analyst reads every alert}
workflows:
  aml:
    phases:
      screen: {kind: screening, catastrophic_error: throughput, caught_by: analyst}
      decide: {kind: judgment, catastrophic_error: missed_risk}
"""


def test_collected_figures_match_the_ledger(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    plan = load_plan(tmp_path / "p.yaml")
    ledger = UsageLedger.open(tmp_path / "p.db")
    router = Router(
        plan,
        {"main": FakeProvider("main", reply="one two three")},
        prices=PriceBook.from_policy(plan.policy),
        ledger=ledger,
        audit=MemoryAuditTrail(),
        rng=random.Random(0),
    )
    for i in range(7):
        router.complete("aml", "screen", [{"role": "user", "content": f"alert {i}"}])
    for i in range(3):
        router.complete("aml", "decide", [{"role": "user", "content": f"case {i}"}])
    data = collect(router, policy="p.yaml")
    ledger.flush()
    totals = {(t.workflow, t.phase): t for t in ledger.totals()}
    for row in data.phases:
        t = totals[(row.workflow, row.phase)]
        assert (row.calls, row.cost, row.counterfactual) == (t.calls, t.cost, t.counterfactual_cost)
    page = render(data)
    screen = totals[("aml", "screen")]
    assert f"{screen.calls:,}" in page
    assert "Routing saved" in page
    router.close()


def test_every_money_figure_has_a_currency_and_every_gap_a_unit() -> None:
    data = DashboardData(
        policy="p.yaml",
        policy_hash="ab" * 32,
        generated_at=datetime(2026, 11, 30, tzinfo=UTC),
        phases=(),
        series=(
            ("2026-11-29", Decimal("1.5"), Decimal("4")),
            ("2026-11-30", Decimal(2), Decimal(5)),
        ),
        budgets=(BudgetGauge("key ops", "day", Decimal(10), Decimal("12.5")),),
        audit=AuditPanel(10, 10, 1, 8, "2026-11-30T10:00:00Z"),
    )
    page = render(data)
    assert "125%" in page  # an overspent budget shows its share
    assert "the newest 2 record(s) not yet under a signed checkpoint" in page
    body = re.sub(r"<code>.*?</code>", " ", page.split("</style>")[1])  # policy snippets
    text = re.sub(r"<[^>]+>", " ", body)
    for number in re.findall(r"(?<![\w.#$+-])\d+\.\d+(?![\w%])", text):
        raise AssertionError(f"a bare decimal without a unit: {number}")


def test_a_negative_saving_is_never_called_a_saving() -> None:
    data = DashboardData(
        policy="p.yaml",
        policy_hash="ab" * 32,
        generated_at=datetime(2026, 11, 30, tzinfo=UTC),
        phases=(),
        series=(("2026-11-30", Decimal(5), Decimal(4)),),
    )
    page = render(data)
    assert "No priced routed calls yet" in page  # no phase rows: nothing to compare
