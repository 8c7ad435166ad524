"""Three gateway replicas on one PostgreSQL under concurrent load: budgets stay exact.

Each replica is its own process with its own connection pool; they share only the database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from access_support import pg_schema, plan_with

from phaseroute.gateway._budgets import BudgetBook
from phaseroute.gateway._keys import KeyStore
from phaseroute.storage.database import open_engine

REPLICA = Path(__file__).resolve().parent / "budget_replica.py"
REPLICAS = 3


@pytest.fixture
def pg_location(postgres_url: str) -> Iterator[str]:
    yield from pg_schema(postgres_url)


def _run_replicas(
    tmp_path: Path,
    location: str,
    daily_usd: str,
    calls: int,
    concurrency: int,
    estimate: str,
    cost: str,
) -> tuple[list[dict[str, int]], str]:
    """Start the replicas together; return their counts and the key's id."""
    plan_with({"wf": {"phases": {"decide": {"daily_usd": daily_usd}}}}, tmp_path)
    store = KeyStore.open(location)
    issued = store.create("load", daily_usd=Decimal(50))
    store.close()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(REPLICA),
                str(tmp_path / "policy.yaml"),
                location,
                issued.secret,
                str(calls),
                str(concurrency),
                estimate,
                cost,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(REPLICAS)
    ]
    for proc in procs:  # every replica has imported and connected: start them together
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results, issued.key.key_id


def _use(location: str, scope: str) -> tuple[Decimal, Decimal, int]:
    engine = open_engine(location)
    try:
        book = BudgetBook(engine)
        use = book.use(scope, "day:" + time.strftime("%Y-%m-%d", time.gmtime()))
    finally:
        engine.dispose()
    return use.spent_usd, use.reserved_usd, use.calls


@pytest.mark.postgres
def test_replicas_never_jointly_overspend_when_estimates_hold(
    tmp_path: Path, pg_location: str
) -> None:
    # $5.40 per day on the phase, $0.03 a call: exactly 180 calls fit; 3 x 80 are attempted,
    # so every replica admits at least 20 of them
    results, _ = _run_replicas(tmp_path, pg_location, "5.40", 80, 8, "0.03", "0.03")
    admitted = sum(r["admitted"] for r in results)
    assert admitted == 180
    assert sum(r["refused"] for r in results) == 3 * 80 - 180
    assert max(r["max_in_flight"] for r in results) > 1  # the load was concurrent
    spent, reserved, calls = _use(pg_location, "phase:wf/decide")
    assert (spent, reserved, calls) == (Decimal("5.40"), Decimal(0), 180)


@pytest.mark.postgres
def test_overspend_is_bounded_by_the_underestimates_in_flight(
    tmp_path: Path, pg_location: str
) -> None:
    # Calls cost $0.05 but reserve only $0.03; one call in flight per replica. The budget
    # may be overrun by at most one underestimate ($0.02) per replica.
    results, key_id = _run_replicas(tmp_path, pg_location, "3", 80, 1, "0.03", "0.05")
    spent, reserved, calls = _use(pg_location, "phase:wf/decide")
    admitted = sum(r["admitted"] for r in results)
    assert calls == admitted
    assert reserved == 0
    assert spent == Decimal("0.05") * admitted  # charged the actual cost, never less
    # refused only once spent + held + 0.03 > 3, so the budget was used up; and overrun by
    # at most the three in-flight underestimates
    assert Decimal("2.97") < spent <= Decimal(3) + REPLICAS * Decimal("0.02")
    key_spent, _, key_calls = _use(pg_location, f"key:{key_id}")
    assert (key_spent, key_calls) == (spent, calls)  # the key's budget saw the same calls
