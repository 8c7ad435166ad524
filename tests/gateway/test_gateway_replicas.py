"""Three `phaseroute serve` processes on one PostgreSQL: one audit chain, exact usage, one
key table and budgets enforced jointly, under concurrent load from both protocols."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from access_support import pg_schema
from gateway_support import KEY_ENV, UPSTREAM_KEY, free_port, write_policy

from phaseroute.audit import AuditTrail, load_signing_key
from phaseroute.gateway._budgets import BudgetBook, Period
from phaseroute.gateway._keys import KeyStore
from phaseroute.runtime import UsageLedger
from phaseroute.storage.database import open_engine
from phaseroute.testing import Upstream

PHASEROUTE = str(Path(sys.executable).parent / "phaseroute")
REPLICAS = 3
PER_REPLICA = 30


@pytest.fixture
def pg_location(postgres_url: str) -> Iterator[str]:
    yield from pg_schema(postgres_url)


def _post(port: int, key: str, body: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": key,
                 "anthropic-version": "2023-06-01"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "a replica exited during start-up"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the replica on port {port} did not become healthy")


@pytest.mark.postgres
def test_three_replicas_share_one_chain_one_ledger_and_the_budgets(
    tmp_path: Path, pg_location: str
) -> None:
    with Upstream(seed=3, api_key=UPSTREAM_KEY) as upstream:
        policy = write_policy(tmp_path, upstream)
        text = policy.read_text(encoding="utf-8")
        db_line = next(line for line in text.splitlines() if line.startswith("database:"))
        priced = "tier: cheap, price: {input_per_mtok: 1, output_per_mtok: 5}}"
        policy.write_text(
            text.replace(db_line, f'database: "{pg_location}"').replace("tier: cheap}", priced)
            + "budgets:\n  coding:\n    phases:\n      execution: {daily_usd: 1000}\n",
            encoding="utf-8",
        )
        store = KeyStore.open(pg_location)
        key = store.create("load", workflows=["coding"]).secret
        store.close()
        env = {**os.environ, KEY_ENV: UPSTREAM_KEY}
        ports = [free_port() for _ in range(REPLICAS)]
        argv = [PHASEROUTE, "serve", str(policy), "--auth", "keys", "--log-level", "warning"]
        procs = [
            subprocess.Popen(
                [*argv, "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for port in ports
        ]
        try:
            for port, proc in zip(ports, procs, strict=True):
                _wait_healthy(port, proc)
            jobs = [
                (ports[i % REPLICAS], "coding/review" if i % 2 else "coding/execution")
                for i in range(REPLICAS * PER_REPLICA)
            ]
            body = {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
            with ThreadPoolExecutor(max_workers=12) as pool:
                answers = list(
                    pool.map(lambda job: (job, _post(job[0], key, {**body, "model": job[1]})),
                             jobs)
                )  # fmt: skip
            # a key scoped to coding may not use support, on any replica
            assert _post(ports[1], key, {**body, "model": "support/answer"})[0] == 403
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)  # graceful: drain, flush ledger, checkpoint
            for proc in procs:
                proc.wait(timeout=60)
    assert all(code == 200 for (_, (code, _, _)) in answers), [
        (job, code, out[:200]) for job, (code, _, out) in answers if code != 200
    ]
    audited = [h for (job, (_, h, _)) in answers if job[1] == "coding/review"]
    seqs = sorted(int(h["x-phaseroute-audit-seq"]) for h in audited)
    assert seqs == list(range(1, len(audited) + 1)), "fork or gap in the shared chain"
    # the replicas sign checkpoints with the policy's key (gateway_support writes one)
    key = load_signing_key("file:keys/audit.key", policy.parent)
    with AuditTrail.open(pg_location) as trail:
        report = trail.verify([key.public_key()], allow_uncovered=True)
    assert report.ok, [f.render() for f in report.findings]
    assert report.records >= len(audited)  # reload/shutdown events may add records
    input_tokens = output_tokens = 0
    for _, (_, _, out) in answers:
        usage = json.loads(out)["usage"]
        input_tokens += usage["input_tokens"]
        output_tokens += usage["output_tokens"]
    ledger = UsageLedger.open(pg_location)
    try:
        totals = ledger.totals(workflow="coding", by_phase=False)
    finally:
        ledger.close()
    (total,) = totals
    assert total.calls == total.served == REPLICAS * PER_REPLICA
    assert (total.input_tokens, total.output_tokens) == (input_tokens, output_tokens)
    # every execution call was reserved and settled on the shared budget row, on whichever
    # replica served it; nothing is left held
    engine = open_engine(pg_location)
    try:
        use = BudgetBook(engine).use("phase:coding/execution", Period.day.key(datetime.now(UTC)))
    finally:
        engine.dispose()
    executions = sum(1 for job, _ in answers if job[1] == "coding/execution")
    assert (use.calls, use.reserved_usd) == (executions, Decimal(0))
    assert use.spent_usd > 0
