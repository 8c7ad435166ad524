"""Fault injection: 1,000 routed calls while the top tier returns 529 for 10% and hangs
for 2% of its requests. Every call succeeds on an allowed model or raises
`RoutingUnavailable` within its bound; no audit phase is served below its tier; every
retry and fallback is visible on the result."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from runtime_policies import write_policy

from phaseroute.errors import RoutingUnavailable
from phaseroute.policy import load_plan
from phaseroute.runtime import RetryPolicy, RoutedResponse, Router, SystemClock, UsageLedger
from phaseroute.testing.fake import FakeProvider, MemoryAuditTrail, random_faults

TOP_IDS = ["claude-opus-4-1", "gpt-4o"]
PHASES = ["screen", "draft", "interpret", "review"]
# Real time, short delays: a fake clock shared by threads would add one thread's backoff to
# another's elapsed time.
RETRY = RetryPolicy(
    max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, attempt_timeout_s=0.05, deadline_s=1.0
)
SLACK_S = 0.25  # scheduling noise on a shared 2-core machine


def test_thousand_calls_under_top_tier_faults(tmp_path: Path) -> None:
    plan = load_plan(write_policy(tmp_path))
    rates = {"overloaded": 0.10, "hang": 0.02}
    answer = '{"decision": "approve"}'
    main = FakeProvider(
        "main", reply=answer, faults=random_faults(rates, seed=1, models=TOP_IDS), hang_s=0.5
    )
    backup = FakeProvider(
        "backup", reply=answer, faults=random_faults(rates, seed=2, models=TOP_IDS), hang_s=0.5
    )
    clock = SystemClock()
    audit = MemoryAuditTrail()
    router = Router(
        plan,
        {"main": main, "backup": backup},
        retry=RETRY,
        ledger=UsageLedger.open(tmp_path / "usage.db"),
        audit=audit,
        clock=clock,
        rng=random.Random(3),
        max_workers=32,
    )
    rng = random.Random(11)
    phases = [rng.choice(PHASES) for _ in range(1000)]

    def one(phase: str) -> tuple[str, RoutedResponse | RoutingUnavailable, float]:
        t0 = clock.monotonic()
        try:
            result: RoutedResponse | RoutingUnavailable = router.complete(
                "wf", phase, [{"role": "user", "content": "alert"}]
            )
        except RoutingUnavailable as e:
            result = e
        return phase, result, clock.monotonic() - t0

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, phases))
    wall = time.monotonic() - started

    served = [(p, r, s) for p, r, s in outcomes if isinstance(r, RoutedResponse)]
    failed = [(p, r, s) for p, r, s in outcomes if isinstance(r, RoutingUnavailable)]
    assert len(served) + len(failed) == 1000
    for phase, result, spent in outcomes:
        assert spent <= RETRY.deadline_s + SLACK_S, (phase, spent)
        required = plan.decision("wf", phase)
        if isinstance(result, RoutingUnavailable):
            assert result.phase == phase
            assert result.tier == required.tier
            assert result.attempts  # names what was tried
            continue
        allowed = {required.model.name, *(m.name for m in required.fallbacks)}
        assert result.model in allowed
        assert plan.models[result.model].rank >= required.model.rank  # never below its tier
        assert not result.degraded or not required.audit
        # every retry and fallback is visible: one failed attempt per fault the model hit
        assert result.attempts[-1].ok
        assert result.attempts[-1].model == result.model
        assert all(not a.ok for a in result.attempts[:-1])
        tried = list(dict.fromkeys(a.model for a in result.attempts if a.error_type != "Skipped"))
        assert tuple(tried[1:]) == result.fallbacks
        if required.audit:
            assert result.tier == "frontier"
            assert result.audit_sequence is not None

    top_calls = [r for p, r, _ in served if plan.decision("wf", p).tier == "frontier"]
    retried = [r for r in top_calls if len(r.attempts) > 1]
    fell_back = [r for r in top_calls if r.fallbacks]
    assert retried
    assert fell_back
    assert any(a.error_type == "ProviderTimeout" for r in retried for a in r.attempts)
    assert any(a.error_type == "Overloaded" for r in retried for a in r.attempts)
    # audited calls are all in the trail, none below the top tier
    assert len(audit.entries) == sum(1 for p, r, _ in served if p == "interpret")
    assert all(e.tier == "frontier" for e in audit.entries)
    router.close()
    ledger = UsageLedger.open(tmp_path / "usage.db")
    totals = {t.phase: t for t in ledger.totals()}
    assert sum(t.served for t in totals.values()) == len(served)
    assert sum(t.unavailable for t in totals.values()) == len(failed)
    ledger.close()
    assert wall < 30
