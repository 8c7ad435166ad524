"""The router through the official SDKs against the local wire-protocol upstream: every
phase of the AML example, streaming and not, on the Anthropic and the OpenAI SDK; and a
smaller fault-injection run where 529s, hangs and broken streams travel over real HTTP."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from project_paths import AML_POLICY

from phaseroute.audit import AuditTrail, generate_key_pair
from phaseroute.errors import RoutingUnavailable
from phaseroute.policy import load_plan
from phaseroute.runtime import RetryPolicy, RoutedResponse, Router, UsageLedger
from phaseroute.testing.fake import MemoryAuditTrail
from phaseroute.testing.upstream import Outcome, OutcomeKind, Upstream

SCREEN_ANSWER = json.dumps({"decision": "investigate", "confidence": 0.9})
MODEL_IDS = ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=5, hang_limit_s=5.0) as up:
        yield up


def aml_policy(tmp_path: Path, upstream: Upstream, sdk: str) -> Path:
    """The AML example with its provider pointed at the local upstream."""
    (tmp_path / "key.txt").write_text("test-key")
    text = AML_POLICY.read_text()
    if sdk == "anthropic":
        provider = f"type: anthropic\n    api_key: file:key.txt\n    base_url: {upstream.base_url}"
    else:
        provider = (
            f"type: openai_compat\n    api_key: file:key.txt\n"
            f"    base_url: {upstream.openai_base_url}"
        )
    text, n = re.subn(r"type: anthropic\n\s+api_key: env:ANTHROPIC_API_KEY[^\n]*", provider, text)
    assert n == 1
    path = tmp_path / "phaseroute.yaml"
    path.write_text(text)
    generate_key_pair(tmp_path / "keys", force=True)  # the example's documented first step
    return path


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_every_aml_phase_end_to_end(tmp_path: Path, upstream: Upstream, sdk: str) -> None:
    for model in MODEL_IDS:
        upstream.program(model, reply=SCREEN_ANSWER, served_as=f"{model}-20260101")
    # No audit given: the router opens the policy's audit trail in the same database.
    router = Router.from_policy(aml_policy(tmp_path, upstream, sdk), database=tmp_path / "p.db")
    plan = router.plan
    results: list[RoutedResponse] = []
    for decision in plan.for_workflow("aml_alert_review"):
        messages = [{"role": "user", "content": f"case 17: {decision.phase}"}]
        plain = router.complete(
            decision.workflow, decision.phase, messages, system="You review AML alerts.",
            max_tokens=200, case_id="case-17",
        )  # fmt: skip
        stream = router.stream(decision.workflow, decision.phase, messages, max_tokens=200)
        streamed = "".join(stream)
        for result in (plain, stream.result):
            assert result.text == SCREEN_ANSWER
            assert result.model == decision.model.name
            assert result.tier == decision.tier
            assert result.model_reported == f"{decision.model.model_id}-20260101"
            assert result.usage.input_tokens > 0
            assert result.usage.output_tokens > 0
            assert result.request_id
            assert result.response.complete
        assert streamed == SCREEN_ANSWER
        assert (plain.audit_sequence is not None) == decision.record
        results.append(plain)
    sequences = [r.audit_sequence for r in results if r.audit_sequence is not None]
    assert sequences == [1, 3]  # two recorded phases, each called plain then streamed
    router.close()
    trail = AuditTrail.open(tmp_path / "p.db")
    assert trail.store.head().last_seq == 4
    trail.close()
    ledger = UsageLedger.open(tmp_path / "p.db")
    totals = ledger.totals(workflow="aml_alert_review", by_phase=False)
    assert totals[0].calls == 2 * len(results)
    ledger.close()


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_async_routing_through_the_sdks(tmp_path: Path, upstream: Upstream, sdk: str) -> None:
    for model in MODEL_IDS:
        upstream.program(model, reply=SCREEN_ANSWER, script=(Outcome(OutcomeKind.OVERLOADED),))
    retry = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)

    async def run() -> tuple[list[RoutedResponse], str]:
        async with Router.from_policy(
            aml_policy(tmp_path, upstream, sdk),
            database=tmp_path / "usage.db",
            audit=MemoryAuditTrail(),
            retry=retry,
        ) as router:
            phases = ["intake_screening", "typology_classification", "qa_filing_review"]
            results = await asyncio.gather(*(
                router.acomplete("aml_alert_review", p, [{"role": "user", "content": p}])
                for p in phases
            ))  # fmt: skip
            stream = router.astream(
                "aml_alert_review", "sar_drafting", [{"role": "user", "content": "x"}]
            )
            text = "".join([d async for d in stream])
        return list(results), text

    results, text = asyncio.run(run())
    assert [r.model for r in results] == ["haiku", "opus", "opus"]
    # each model's first request was overloaded (opus serves two of the phases)
    overloaded = [a for r in results for a in r.attempts if a.error_type == "Overloaded"]
    assert sorted(a.model for a in overloaded) == ["haiku", "opus"]
    assert text == SCREEN_ANSWER


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_wire_faults_on_the_top_tier(tmp_path: Path, upstream: Upstream, sdk: str) -> None:
    """529 (or 503) for 10% and hangs for 2% of top-tier requests, plus errors inside 200
    streams: calls succeed on an allowed model or fail loudly within the deadline."""
    faults = {Outcome(OutcomeKind.OVERLOADED): 0.10, Outcome(OutcomeKind.HANG): 0.02}
    upstream.program("claude-opus-5-5", reply="opus answer", faults=faults)
    upstream.program("claude-sonnet-5-5", reply=SCREEN_ANSWER)
    upstream.program("claude-haiku-5-5", reply=SCREEN_ANSWER)
    retry = RetryPolicy(
        max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, attempt_timeout_s=0.5, deadline_s=3
    )
    router = Router.from_policy(
        aml_policy(tmp_path, upstream, sdk),
        database=tmp_path / "usage.db",
        audit=MemoryAuditTrail(),
        retry=retry,
        rng=random.Random(1),
    )
    plan = load_plan(aml_policy(tmp_path, upstream, sdk))
    phases = [d.phase for d in plan.for_workflow("aml_alert_review")]
    served = failed = retried = 0
    failures: list[tuple[str, RoutingUnavailable]] = []
    for i in range(60):
        phase = phases[i % len(phases)]
        required = plan.decision("aml_alert_review", phase)
        messages = [{"role": "user", "content": f"case {i}"}]
        try:
            if i % 3 == 0:
                stream = router.stream("aml_alert_review", phase, messages)
                "".join(stream)
                result = stream.result
            else:
                result = router.complete("aml_alert_review", phase, messages)
        except RoutingUnavailable as e:
            failures.append((required.tier, e))
            failed += 1
            continue
        served += 1
        assert plan.models[result.model].rank >= required.model.rank
        assert result.latency_s <= retry.deadline_s + 0.5
        if len(result.attempts) > 1:
            retried += 1
            assert all(not a.ok for a in result.attempts[:-1])
    assert all(e.tier == tier and e.attempts for tier, e in failures)
    assert served + failed == 60
    assert served > 50
    assert retried > 0
    router.close()
