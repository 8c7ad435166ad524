"""The usage ledger on SQLite and PostgreSQL, routed calls' accounting, and `phaseroute usage`."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from runtime_policies import write_policy

from phaseroute.cli._app import run
from phaseroute.cli.usage import parse_since
from phaseroute.costs import PriceBook
from phaseroute.errors import Overloaded, RequestError, RoutingUnavailable
from phaseroute.policy import load_plan
from phaseroute.runtime import RetryPolicy, Router, UsageLedger, UsageRecord
from phaseroute.testing.fake import FakeProvider, MemoryAuditTrail

MSG = [{"role": "user", "content": "one two three four"}]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def record(phase: str, cost: str | None, at: datetime = T0, outcome: str = "served") -> UsageRecord:
    return UsageRecord(
        recorded_at=at, workflow="wf", phase=phase, model="m", model_id="m-1",
        model_reported="m-1", provider="p", tier="economy", required_tier="economy",
        outcome=outcome, input_tokens=100, output_tokens=10, cache_read_tokens=5,
        cache_write_tokens=0, cost=None if cost is None else Decimal(cost),
        counterfactual_cost=Decimal("0.01"), latency_s=0.1, attempts=1, fell_back=False,
        degraded=False, stream=False, policy_hash="h" * 64,
    )  # fmt: skip


def exercise_ledger(location: str | Path) -> None:
    ledger = UsageLedger.open(location, batch_size=7)

    def writer(n: int) -> None:
        for i in range(50):
            ledger.record(record("a" if i % 2 else "b", "0.000000123" if i % 5 else None))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger.record(record("a", "0.5", at=T0 - timedelta(days=30)))
    ledger.close()  # every accepted row is written on close

    reopened = UsageLedger.open(location)
    totals = {t.phase: t for t in reopened.totals()}
    assert totals["a"].calls == 101
    assert totals["b"].calls == 100
    assert totals["a"].input_tokens == 10100
    assert totals["a"].cache_read_tokens == 505
    # 200 rows: every 5th (i % 5 == 0) unpriced -> 40 unpriced, 160 priced
    assert totals["a"].unpriced + totals["b"].unpriced == 40
    priced_b = Decimal("0.000000123") * (100 - totals["b"].unpriced)
    assert totals["b"].cost == priced_b
    assert totals["b"].counterfactual_cost == Decimal("0.01") * 100
    assert totals["b"].saving == totals["b"].counterfactual_cost - totals["b"].cost
    recent = {t.phase: t.calls for t in reopened.totals(since=T0 - timedelta(days=1))}
    assert recent == {"a": 100, "b": 100}
    (whole,) = reopened.totals(workflow="wf", by_phase=False)
    assert whole.phase is None
    assert whole.calls == 201
    assert reopened.totals(workflow="other") == []
    reopened.close()


def test_ledger_on_sqlite(sqlite_path: Path) -> None:
    exercise_ledger(sqlite_path)


@pytest.mark.postgres
def test_ledger_on_postgresql(postgres_url: str) -> None:
    exercise_ledger(postgres_url)


def test_routed_calls_are_accounted(tmp_path: Path) -> None:
    plan = load_plan(write_policy(tmp_path))
    ledger = UsageLedger.open(tmp_path / "u.db")

    def reply(request):  # type: ignore[no-untyped-def]
        return "no" if request.model == "claude-haiku-4-5" else '{"decision": "approve"}'

    main = FakeProvider("main", reply=reply)
    router = Router(
        plan,
        {"main": main, "backup": FakeProvider("backup")},
        prices=PriceBook.from_policy(plan.policy),
        ledger=ledger,
        audit=MemoryAuditTrail(),
        retry=RetryPolicy(max_attempts=1),
    )
    escalated = router.complete("wf", "screen", MSG, case_id="k1")
    down_too = FakeProvider("backup", faults=lambda r: Overloaded("x"))
    down = Router(
        plan,
        {"main": FakeProvider("main", faults=lambda r: Overloaded("x")), "backup": down_too},
        ledger=ledger,
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(RoutingUnavailable):
        down.complete("wf", "review", MSG)
    ledger.flush()
    rows = ledger.records()
    assert [(r["phase"], r["model"], r["outcome"]) for r in rows] == [
        ("screen", "small", "escalated"),
        ("screen", "medium", "served"),
        ("review", "large", "unavailable"),
    ]
    assert rows[0]["case_id"] == "k1"
    assert rows[1]["required_tier"] == "economy"
    assert Decimal(rows[1]["cost"]) == escalated.cost  # type: ignore[arg-type]
    assert Decimal(rows[0]["cost"]) == escalated.escalations[0].cost  # type: ignore[arg-type]
    assert escalated.total_cost == escalated.cost + escalated.escalations[0].cost  # type: ignore[operator]
    router.close()


def test_unknown_model_costs_none_and_never_fails_the_call(tmp_path: Path) -> None:
    text = write_policy(tmp_path).read_text().replace("claude-haiku-4-5", "no-such-model-xyz")
    plan = load_plan(write_policy(tmp_path, text))
    router = Router(
        plan,
        {"main": FakeProvider("main", reply='{"decision": "approve"}'), "backup": FakeProvider()},
        prices=PriceBook.from_policy(plan.policy),
    )
    result = router.complete("wf", "screen", MSG)
    assert result.model == "small"
    assert result.cost is None
    assert result.counterfactual_cost is not None
    assert result.total_cost is None


def test_parse_since() -> None:
    now = datetime(2025, 3, 8, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)
    with pytest.raises(RequestError, match="use a relative age like 7d"):
        parse_since("last week")


def test_usage_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "usage.db"
    ledger = UsageLedger.open(db)
    now = datetime.now(tz=UTC)
    ledger.record(record("screen", "0.001", at=now))
    ledger.record(record("screen", None, at=now))
    ledger.record(record("review", "0.002", at=now - timedelta(days=10)))
    ledger.close()
    assert run(["usage", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    phases = {p["phase"]: p for p in doc["phases"]}
    assert phases["screen"]["calls"] == 2
    assert Decimal(phases["screen"]["cost"]) == Decimal("0.001")
    assert phases["screen"]["unpriced_calls"] == 1
    assert doc["workflows"][0]["calls"] == 3
    assert run(["usage", "--db", str(db), "--since", "7d", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["phase"] for p in doc["phases"]] == ["screen"]
    assert run(["usage", "--db", str(db), "--phase", "review", "--format", "json"]) == 0
    assert [p["phase"] for p in json.loads(capsys.readouterr().out)["phases"]] == ["review"]
    assert run(["usage", "--db", str(db)]) == 0
    assert "usage per phase" in capsys.readouterr().out
    assert run(["usage", "--db", str(db), "--since", "soon"]) == 2  # a malformed option
    assert "--since 'soon'" in capsys.readouterr().err
    assert run(["usage", "--db", str(tmp_path / "missing.db")]) == 1
