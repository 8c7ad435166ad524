"""Batches through both official SDKs against the local upstream's batch APIs: 1,000
requests with failures and expiries get exactly one outcome each; answers are billed at
batch prices, recorded with the batch flag and audited; retries follow the phase's policy."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_policies import provider

from phaseroute.errors import RequestError
from phaseroute.providers import Usage
from phaseroute.runtime import BatchHandle, RetryPolicy, Router, UsageLedger
from phaseroute.testing.fake import MemoryAuditTrail
from phaseroute.testing.upstream import Outcome, OutcomeKind, Upstream

POLICY = """
version: 1
audit: {{signing_key: env:PHASEROUTE_TEST_AUDIT_KEY}}   # tests inject the trail
tiers: [economy, frontier]
providers:
  main: {main}
models:
  small: {{provider: main, id: batch-small, tier: economy, price_ref: {cheap}}}
  large: {{provider: main, id: batch-large, tier: frontier, price_ref: {top}}}
controls:
  analyst: {{description: an analyst reads every alert}}
workflows:
  aml:
    phases:
      screen:
        kind: screening
        catastrophic_error: throughput
        caught_by: analyst
        batch: true
        record: true
      judge:
        kind: judgment
        catastrophic_error: missed_risk
"""
PRICES = {
    "anthropic": ("claude-haiku-4-5", "claude-sonnet-4-5"),
    "openai": ("gpt-4o-mini", "gpt-4o"),
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=11, batch_polls=1) as up:
        yield up


def policy(tmp_path: Path, upstream: Upstream, kind: str) -> Path:
    (tmp_path / "key.txt").write_text("k")
    cheap, top = PRICES[kind]
    path = tmp_path / "batch.yaml"
    path.write_text(POLICY.format(main=provider(kind, upstream), cheap=cheap, top=top))
    return path


def requests(n: int) -> list[dict[str, object]]:
    return [
        {"custom_id": f"alert-{i}", "messages": [{"role": "user", "content": f"alert {i}"}],
         "max_tokens": 50, "case_id": f"case-{i}"}
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_thousand_requests_with_failures_and_expiries_get_one_outcome_each(
    tmp_path: Path, upstream: Upstream, kind: str
) -> None:
    upstream.program(
        "batch-small",
        reply="close",
        faults={
            Outcome(OutcomeKind.EXPIRED): 0.05,
            Outcome(OutcomeKind.SERVER_ERROR): 0.04,
            Outcome(OutcomeKind.BAD_REQUEST): 0.02,
        },
    )
    audit = MemoryAuditTrail()
    router = Router.from_policy(
        policy(tmp_path, upstream, kind), database=tmp_path / "u.db", audit=audit
    )
    handle = router.submit_batch("aml", "screen", requests(1000))
    with pytest.raises(RequestError, match="still in progress"):
        router.collect(handle)  # the upstream holds it in progress for one status read
    # The handle survives a round trip through JSON (the CLI keeps it in a file).
    handle = BatchHandle.from_json(json.loads(json.dumps(handle.to_json())))
    collected = router.collect(handle, retry=False)
    said = {cid: r[0] for cid, r in upstream.batches.get(handle.id).results.items()}  # type: ignore[union-attr]
    assert len(collected.outcomes) == 1000
    assert len({o.custom_id for o in collected.outcomes}) == 1000
    assert [o.custom_id for o in collected.outcomes] == [f"alert-{i}" for i in range(1000)]
    for o in collected.outcomes:
        assert o.batch_result == said[o.custom_id]
        assert (o.outcome == "served") == (said[o.custom_id] == "succeeded")
        assert (o.result is None) == (o.outcome == "failed")
    kinds = Counter(said.values())
    assert kinds["expired"] > 20
    assert kinds["errored"] > 20
    assert collected.counts()["served"] == kinds["succeeded"]
    # Billed at the batch price, named, recorded with the batch flag and audited.
    served = next(o.result for o in collected.outcomes if o.result is not None)
    assert served.usage.batch
    book = router._accountant.prices
    assert book is not None
    assert served.cost == book.cost("small", served.usage)
    plain = book.cost("small", Usage(served.usage.input_tokens, served.usage.output_tokens))
    assert served.cost is not None
    assert plain is not None
    assert served.cost < plain
    assert collected.batch_price_source is not None
    assert "batch" in collected.batch_price_source
    assert len(audit.entries) == kinds["succeeded"]
    assert all(e.batch for e in audit.entries)
    assert audit.entries[0].case_id is not None
    router.close()
    ledger = UsageLedger.open(tmp_path / "u.db")
    (totals,) = ledger.totals(workflow="aml")
    assert totals.batch_calls == kinds["succeeded"]
    assert totals.served == kinds["succeeded"]
    assert totals.unavailable == kinds["errored"] - sum(
        1
        for o in collected.outcomes
        if o.batch_result == "errored" and "ServerError" in (o.error or "")
    )
    ledger.close()


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_expired_and_retryable_failures_are_retried_per_the_phase_policy(
    tmp_path: Path, upstream: Upstream, kind: str
) -> None:
    script = (
        Outcome(OutcomeKind.OK),
        Outcome(OutcomeKind.EXPIRED),
        Outcome(OutcomeKind.SERVER_ERROR),
        Outcome(OutcomeKind.BAD_REQUEST),
    )
    upstream.program("batch-small", reply="close", script=script)
    router = Router.from_policy(
        policy(tmp_path, upstream, kind),
        database=tmp_path / "u.db",
        audit=MemoryAuditTrail(),
        retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02),
    )
    handle = router.submit_batch("aml", "screen", requests(4))
    router.batch_status(handle)
    collected = router.collect(handle)
    outcomes = [(o.batch_result, o.outcome) for o in collected.outcomes]
    assert outcomes == [
        ("succeeded", "served"),
        ("expired", "served_after_retry"),
        ("errored", "served_after_retry"),
        ("errored", "failed"),  # a 400 is the request's fault: not retried
    ]
    retried = collected.outcomes[1].result
    assert retried is not None
    assert not retried.usage.batch  # the retry was an ordinary call, at ordinary prices
    router.close()


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_cancel_and_expiry_of_a_whole_batch(tmp_path: Path, kind: str) -> None:
    with Upstream(seed=1, batch_polls=5) as up:
        router = Router.from_policy(
            policy(tmp_path, up, kind), database=tmp_path / "u.db", audit=MemoryAuditTrail()
        )
        first = router.submit_batch("aml", "screen", requests(3))
        assert router.cancel_batch(first).done
        assert router.collect(first).counts() == {
            "served": 0, "served_after_retry": 0, "failed": 0, "canceled": 3
        }  # fmt: skip
        second = router.submit_batch("aml", "screen", requests(3))
        up.expire_batch(second.id)
        collected = router.collect(second, retry=False)
        assert [o.batch_result for o in collected.outcomes] == ["expired"] * 3
        assert collected.counts()["failed"] == 3
        router.close()


def test_a_phase_must_declare_batch_and_requests_must_be_valid(
    tmp_path: Path, upstream: Upstream
) -> None:
    router = Router.from_policy(
        policy(tmp_path, upstream, "anthropic"),
        database=tmp_path / "u.db",
        audit=MemoryAuditTrail(),
    )
    with pytest.raises(RequestError, match=r"workflows\.aml\.phases\.judge: .*batch: true"):
        router.submit_batch("aml", "judge", requests(1))
    with pytest.raises(RequestError, match=r"requests\[0\]: unknown field\(s\) model"):
        router.submit_batch("aml", "screen", [{"messages": [], "model": "x"}])
    with pytest.raises(RequestError, match=r"requests\[1\]\.custom_id: 'a' is used twice"):
        router.submit_batch(
            "aml", "screen",
            [{"custom_id": "a", "messages": [{"role": "user", "content": "x"}]}] * 2,
        )  # fmt: skip
    router.close()


def test_batch_cli_submit_status_collect(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    from phaseroute.cli._app import run

    upstream.program("batch-small", reply="close")
    path = policy(tmp_path, upstream, "openai")
    # The CLI opens the policy's audit trail, which needs the phase's signing key.
    text = path.read_text().replace("        record: true\n", "")
    path.write_text(text)
    file = tmp_path / "alerts.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in requests(5)) + "\n")
    db = str(tmp_path / "cli.db")
    args = ["--policy", str(path), "--workflow", "aml", "--phase", "screen", "--db", db]
    assert run(["batch", "submit", str(file), *args]) == 0
    assert "submitted batch batch_" in capsys.readouterr().out
    assert run(["batch", "status", str(file)]) == 0
    assert "in_progress" in capsys.readouterr().out
    assert run(["batch", "collect", str(file)]) == 0
    out = capsys.readouterr().out
    assert "served 5" in out
    assert "batch prices: genai-prices" in out
    rows = [
        json.loads(x) for x in (tmp_path / "alerts.jsonl.results.jsonl").read_text().splitlines()
    ]
    assert [r["custom_id"] for r in rows] == [f"alert-{i}" for i in range(5)]
    assert all(r["batch_priced"] for r in rows)
    assert run(["batch", "status", str(tmp_path / "nope.jsonl")]) == 1


def test_async_batch_submit_and_collect(tmp_path: Path, upstream: Upstream) -> None:
    import asyncio

    upstream.program("batch-small", reply="close")
    router = Router.from_policy(
        policy(tmp_path, upstream, "anthropic"),
        database=tmp_path / "u.db",
        audit=MemoryAuditTrail(),
    )

    async def go() -> dict[str, int]:
        handle = await router.asubmit_batch("aml", "screen", requests(3))
        while not (await router.abatch_status(handle)).done:
            await asyncio.sleep(0)
        return (await router.acollect(handle)).counts()

    assert asyncio.run(go())["served"] == 3
    router.close()
