"""``phaseroute usage`` never prints a negative saving as a saving."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from phaseroute.cli._app import run
from phaseroute.runtime import UsageLedger, UsageRecord


def _record(cost: str, counterfactual: str) -> UsageRecord:
    return UsageRecord(
        recorded_at=datetime.now(tz=UTC), workflow="wf", phase="draft", model="m",
        model_id="m-1", model_reported="m-1", provider="p", tier="economy",
        required_tier="economy", outcome="served", input_tokens=100, output_tokens=10,
        cache_read_tokens=0, cache_write_tokens=0, cost=Decimal(cost),
        counterfactual_cost=Decimal(counterfactual), latency_s=0.1, attempts=1,
        fell_back=False, degraded=False, stream=False, policy_hash="h" * 64,
    )  # fmt: skip


def test_calls_that_cost_more_than_the_top_tier_are_shown_as_costing_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the whole table, unfolded
    db = tmp_path / "usage.db"
    ledger = UsageLedger.open(db)
    ledger.record(_record("0.05", "0.01"))  # e.g. escalated: dearer than uniform top tier
    ledger.close()
    assert run(["usage", "--db", str(db)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "$0.0400 more" in out
    # No negative amount in any spelling: $-0.04, -$0.04, -0.04, (−0.04), $ -0.04.
    assert not re.search(r"(^|[\s(|])[-−]\s?\$?\d|\$\s?[-−]\s?\d", out), out
