"""The router on a fake provider: decisions, requests, results, retries, fallback, degrade."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path

import pytest
from runtime_policies import write_policy

from phaseroute.errors import (
    AuthenticationFailed,
    InvalidProviderRequest,
    Overloaded,
    RateLimited,
    RequestError,
    RoutingUnavailable,
    ServerError,
    SpendLimitReached,
)
from phaseroute.policy import load_plan
from phaseroute.providers._base import CompletionRequest, Message
from phaseroute.runtime import RetryPolicy, Router
from phaseroute.testing.fake import FakeClock, FakeProvider, MemoryAuditTrail, scripted

MSG = [{"role": "user", "content": "is this alert suspicious?"}]


def overloaded() -> Overloaded:
    return Overloaded("Overloaded", status_code=529)


def make(
    tmp_path: Path,
    main: FakeProvider | None = None,
    backup: FakeProvider | None = None,
    retry: RetryPolicy | None = None,
) -> tuple[Router, FakeClock]:
    plan = load_plan(write_policy(tmp_path))
    clock = FakeClock()
    router = Router(
        plan,
        {"main": main or FakeProvider("main"), "backup": backup or FakeProvider("backup")},
        retry=retry or RetryPolicy(max_attempts=3, attempt_timeout_s=2.0, deadline_s=30.0),
        audit=MemoryAuditTrail(),
        clock=clock,
        rng=random.Random(7),
    )
    return router, clock


def test_a_call_is_served_by_the_plans_model_with_its_decision(tmp_path: Path) -> None:
    main = FakeProvider("main", reply="the answer", report_as={"claude-opus-4-1": "opus-2025"})
    router, _ = make(tmp_path, main)
    result = router.complete("wf", "review", MSG, system="be careful", max_tokens=50, stop=["X"])
    assert result.text == "the answer"
    assert result.model == "large"
    assert result.model_id == "claude-opus-4-1"
    assert result.model_reported == "opus-2025"  # what the provider says served it
    assert result.tier == "frontier"
    d = result.decision
    assert (d.workflow, d.phase, d.tier, d.model) == ("wf", "review", "frontier", "large")
    assert d.rule.startswith("rule 2")
    assert d.basis == "rule"
    assert d.policy_hash == router.plan.policy_hash
    assert [a.ok for a in result.attempts] == [True]
    assert result.fallbacks == ()
    assert result.escalations == ()
    assert not result.degraded
    sent = main.requests[0]
    assert sent.model == "claude-opus-4-1"
    assert sent.system == "be careful"
    assert sent.max_tokens == 50
    assert sent.stop == ("X",)
    assert sent.messages == (Message("user", "is this alert suspicious?"),)


def test_messages_may_be_message_objects(tmp_path: Path) -> None:
    router, _ = make(tmp_path)
    result = router.complete("wf", "review", [Message("user", "hi")])
    assert result.text == "ok"


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([{"role": "user"}], "messages[0].content: missing"),
        ([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}], "messages[1].role"),
        ([{"role": "system", "content": "a"}], "only system messages were given"),
        ([{"role": "user", "content": 3}], "messages[0].content: expected a string or a list"),
        ([{"role": "user", "content": "a", "name": "x"}], "messages[0].name: unknown"),
        (["hello"], "messages[0]: expected a Message"),
        ([], "at least one message"),
        ("hello", "got a str"),
    ],
)
def test_bad_messages_name_the_index_and_field(
    tmp_path: Path, messages: object, needle: str
) -> None:
    router, _ = make(tmp_path)
    with pytest.raises(RequestError) as info:
        router.complete("wf", "review", messages)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_unknown_workflow_and_phase_are_request_errors(tmp_path: Path) -> None:
    router, _ = make(tmp_path)
    with pytest.raises(RequestError, match=r"unknown workflow 'nope' \(this policy has: wf\)"):
        router.complete("nope", "review", MSG)
    with pytest.raises(RequestError, match="unknown phase 'x' in workflow 'wf'"):
        router.complete("wf", "x", MSG)
    with pytest.raises(RequestError, match="max_tokens"):
        router.complete("wf", "review", MSG, max_tokens=0)


def test_retryable_errors_are_retried_with_backoff_honouring_retry_after(tmp_path: Path) -> None:
    main = FakeProvider(
        "main", faults=scripted(RateLimited("slow down", retry_after=7.0), ServerError("boom"))
    )
    router, clock = make(tmp_path, main)
    result = router.complete("wf", "review", MSG)
    assert result.model == "large"
    assert [a.error_type for a in result.attempts] == ["RateLimited", "ServerError", None]
    assert result.attempts[0].retry_after == 7.0
    assert clock.slept[0] >= 7.0  # the provider's retry-after is a floor
    assert 0 <= clock.slept[1] <= 1.0  # full jitter under base * 2**1
    assert result.attempts[1].waited_s == clock.slept[0]
    assert result.fallbacks == ()


@pytest.mark.parametrize(
    "error",
    [
        SpendLimitReached("spend limit reached", status_code=429),
        AuthenticationFailed("bad key", status_code=401),
        InvalidProviderRequest("bad request", status_code=400),
    ],
)
def test_errors_waiting_cannot_fix_are_never_retried(tmp_path: Path, error: Exception) -> None:
    main = FakeProvider("main", faults=scripted(error))
    router, clock = make(tmp_path, main)
    result = router.complete("wf", "review", MSG)
    # One attempt on the primary, then the same-tier fallback on the other provider.
    assert [(a.model, a.error_type) for a in result.attempts] == [
        ("large", type(error).__name__),
        ("large2", None),
    ]
    assert result.fallbacks == ("large2",)
    assert clock.slept == []


def test_fallback_goes_same_tier_then_higher_never_lower(tmp_path: Path) -> None:
    main = FakeProvider("main", faults=lambda r: overloaded() if r.model != "gpt-4o" else None)
    router, _ = make(tmp_path, main)
    result = router.complete("wf", "draft", MSG)  # standard tier: medium, then large, large2
    assert [a.model for a in result.attempts] == ["medium"] * 3 + ["large"] * 3 + ["large2"]
    assert result.fallbacks == ("large", "large2")
    assert result.model == "large2"
    assert result.tier == "frontier"
    assert not result.degraded


def test_spend_limit_skips_the_rest_of_that_providers_models(tmp_path: Path) -> None:
    main = FakeProvider("main", faults=lambda r: SpendLimitReached("limit", status_code=429))
    router, _ = make(tmp_path, main)
    result = router.complete("wf", "draft", MSG)
    kinds = [(a.model, a.error_type) for a in result.attempts]
    assert kinds == [("medium", "SpendLimitReached"), ("large", "Skipped"), ("large2", None)]


def test_a_phase_that_cannot_get_its_tier_fails_loudly(tmp_path: Path) -> None:
    main = FakeProvider("main", faults=lambda r: overloaded())
    backup = FakeProvider("backup", faults=lambda r: ServerError("down", status_code=503))
    router, _ = make(tmp_path, main, backup)
    with pytest.raises(RoutingUnavailable) as info:
        router.complete("wf", "review", MSG)
    e = info.value
    assert (e.workflow, e.phase, e.tier) == ("wf", "review", "frontier")
    assert [(a.model, a.tier) for a in e.attempts] == [
        ("large", "frontier"),
        ("large2", "frontier"),
    ]
    assert "Overloaded" in e.attempts[0].error
    assert "ServerError" in e.attempts[1].error
    assert "large (frontier): Overloaded" in str(e)


def test_a_degradable_phase_degrades_and_says_so(tmp_path: Path) -> None:
    main = FakeProvider(
        "main", faults=lambda r: None if r.model == "claude-haiku-4-5" else overloaded()
    )
    backup = FakeProvider("backup", faults=lambda r: overloaded())
    router, _ = make(tmp_path, main, backup, RetryPolicy(max_attempts=1, deadline_s=30))
    result = router.complete("wf", "draft", MSG)
    assert result.degraded
    assert result.model == "small"
    assert result.tier == "economy"
    assert result.decision.tier == "standard"
    assert result.fallbacks == ("large", "large2", "small")


def test_audit_phases_never_degrade_and_are_recorded(tmp_path: Path) -> None:
    router, _ = make(tmp_path)
    result = router.complete("wf", "interpret", MSG, case_id="case-1")
    assert result.audit_sequence == 1
    entry = router.audit.entries[0]  # type: ignore[union-attr]
    assert entry.case_id == "case-1"
    assert entry.tier == "frontier"


def test_the_deadline_bounds_a_call_with_a_hung_upstream(tmp_path: Path) -> None:
    main = FakeProvider("main", faults=lambda r: "hang", hang_s=5.0)
    backup = FakeProvider("backup", faults=lambda r: "hang", hang_s=5.0)
    retry = RetryPolicy(max_attempts=5, attempt_timeout_s=0.05, deadline_s=0.3)
    router, clock = make(tmp_path, main, backup, retry)
    t0 = clock.monotonic()
    with pytest.raises(RoutingUnavailable) as info:
        router.complete("wf", "review", MSG)
    assert clock.monotonic() - t0 < 0.3 + 0.2
    assert all("ProviderTimeout" in a.error or "deadline" in a.error for a in info.value.attempts)
    router.close()


def test_call_model_retries_without_routing(tmp_path: Path) -> None:
    main = FakeProvider("main", faults=scripted(overloaded()))
    router, _ = make(tmp_path, main)
    request = CompletionRequest(model="ignored", messages=(Message("user", "q"),))
    result = router.call_model("small", request, workflow="measure", phase="p")
    assert result.model == "small"
    assert len(result.attempts) == 2
    assert main.requests[-1].model == "claude-haiku-4-5"
    failing = FakeProvider("main", faults=lambda r: overloaded())
    router2, _ = make(tmp_path, failing)
    with pytest.raises(Overloaded):
        router2.call_model("small", request)
    with pytest.raises(RequestError, match="unknown model 'nope'"):
        router2.call_model("nope", request)


def test_async_complete_matches_sync(tmp_path: Path) -> None:
    main = FakeProvider("main", faults=scripted(overloaded()), reply="async answer")
    router, _ = make(tmp_path, main)

    async def run() -> list[str]:
        results = await asyncio.gather(*(router.acomplete("wf", "review", MSG) for _ in range(20)))
        return [r.text for r in results]

    assert asyncio.run(run()) == ["async answer"] * 20


def test_costs_are_decimals_with_a_top_tier_counterfactual(tmp_path: Path) -> None:
    from phaseroute.costs import PriceBook

    plan = load_plan(write_policy(tmp_path))
    router = Router(
        plan,
        {
            "main": FakeProvider("main", reply='{"decision": "approve"}'),
            "backup": FakeProvider("x"),
        },
        prices=PriceBook.from_policy(plan.policy),
    )
    result = router.complete("wf", "review", MSG)
    assert isinstance(result.cost, Decimal)
    assert result.cost > 0
    assert result.counterfactual_cost == result.cost  # review already runs on the top model
    cheap = router.complete("wf", "screen", MSG)
    assert cheap.cost is not None
    assert cheap.counterfactual_cost is not None
    assert cheap.model == "small"
    assert cheap.escalations == ()
    assert cheap.cost < cheap.counterfactual_cost
    assert result.price_version is not None
    assert "genai-prices" in result.price_version
