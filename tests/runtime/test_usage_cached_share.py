"""The ledger keeps cache tokens and the batch flag; `usage` shows the cached share per phase."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from phaseroute.cli._app import run
from phaseroute.runtime import UsageLedger, UsageRecord


def record(phase: str, read: int, batch: bool) -> UsageRecord:
    return UsageRecord(
        recorded_at=datetime(2026, 1, 2, tzinfo=UTC), workflow="wf", phase=phase, model="m",
        model_id="m-1", model_reported="m-1", provider="p", tier="economy",
        required_tier="economy", outcome="served", input_tokens=200, output_tokens=10,
        cache_read_tokens=read, cache_write_tokens=100, cost=Decimal("0.001"),
        counterfactual_cost=Decimal("0.01"), latency_s=0.1, attempts=1, fell_back=False,
        degraded=False, stream=False, policy_hash="h" * 64, batch=batch,
    )  # fmt: skip


def test_cached_share_and_batch_calls_per_phase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    db = tmp_path / "u.db"
    ledger = UsageLedger.open(db)
    ledger.record(record("screen", 700, batch=True))
    ledger.record(record("screen", 700, batch=False))
    ledger.record(record("judge", 0, batch=False))
    ledger.close()
    totals = {t.phase: t for t in UsageLedger.open(db).totals()}
    assert totals["screen"].cached_share == pytest.approx(1400 / 2000)
    assert totals["screen"].batch_calls == 1
    assert totals["judge"].cached_share == 0
    assert run(["usage", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    phases = {p["phase"]: p for p in doc["phases"]}
    assert phases["screen"]["cached_share"] == 0.7
    assert phases["screen"]["batch_calls"] == 1
    assert run(["usage", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "cached" in out
    assert "70%" in out
