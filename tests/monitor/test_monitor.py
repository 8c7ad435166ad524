"""Shadow calls through a real Router (fake providers): off the caller's path, scored,
stored, accounted apart, and a drift that raises the alarm and reverts the phase."""

from __future__ import annotations

import itertools
import random
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from phaseroute.costs import PriceBook
from phaseroute.monitor import DriftState, MonitorStore, ProductionMonitor
from phaseroute.policy import load_plan
from phaseroute.runtime import RetryPolicy, Router, UsageLedger
from phaseroute.storage.database import open_engine
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
      screen:
        kind: screening
        catastrophic_error: throughput
        caught_by: analyst
        quality:
          metric: accuracy
          margin: 0.05
          scorer: {type: label, labels: [escalate, dismiss]}
        shadow: {share: 1.0, on_drift: revert, alpha: 0.05, webhook: "http://hooks.invalid/x"}
      decide:
        kind: judgment
        catastrophic_error: missed_risk
"""


class Answers:
    """The top model always answers the label; the cheap one too, until `drift_from`."""

    def __init__(self, drift_from: int | None = None) -> None:
        self.drift_from = drift_from
        self.cheap_calls = itertools.count(1)
        self.rng = random.Random(3)
        self.release = threading.Event()
        self.release.set()

    def __call__(self, request) -> str:  # type: ignore[no-untyped-def]
        label = request.metadata["label"]
        if request.model == "claude-opus-4-1":
            self.release.wait(10)
            return label
        n = next(self.cheap_calls)
        if self.drift_from is not None and n >= self.drift_from and self.rng.random() < 0.5:
            return "dismiss" if label == "escalate" else "escalate"
        return label


def build(tmp_path: Path, answers: Answers, db: Path | None = None, text: str = POLICY):  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    plan = load_plan(policy)
    location = db or tmp_path / "p.db"
    ledger = UsageLedger.open(location)
    audit = MemoryAuditTrail()
    router = Router(
        plan,
        {"main": FakeProvider("main", reply=answers)},
        retry=RetryPolicy(max_attempts=1, attempt_timeout_s=20, deadline_s=30),
        prices=PriceBook.from_policy(plan.policy),
        ledger=ledger,
        audit=audit,
        rng=random.Random(1),
    )
    hooks: list[tuple[str, dict[str, object]]] = []
    monitor = ProductionMonitor(
        plan,
        MonitorStore(open_engine(location)),
        rng=random.Random(2),
        notify=lambda url, payload: hooks.append((url, payload)),
    ).attach(router)
    return router, monitor, ledger, audit, hooks


def call(router: Router, i: int) -> str:
    label = "escalate" if i % 3 == 0 else "dismiss"
    r = router.complete(
        "aml", "screen", [{"role": "user", "content": f"alert {i}"}], metadata={"label": label}
    )
    return r.model


def test_drift_raises_the_alarm_reverts_and_is_audited(tmp_path: Path) -> None:
    answers = Answers(drift_from=300)
    router, monitor, _, audit, hooks = build(tmp_path, answers)
    served = []
    for i in range(1500):
        served.append(call(router, i))
        if i % 50 == 0:
            monitor.drain()
        if served[-1] == "large":
            break
    monitor.drain()
    (status,) = monitor.status()
    assert status.watch.state is DriftState.drifted
    assert status.reverted
    assert status.watch.alarm_at is not None
    assert 300 <= status.watch.alarm_at < 1500
    # From the revert on, the phase is served by the top tier, under a stated rule.
    assert router.decide("aml", "screen").tier == "frontier"
    assert router.decide("aml", "screen").rule == "drift revert"
    assert call(router, 10_000) == "large"
    # The revert is a chained audit record carrying the evidence, and the webhook fired.
    (event,) = [e for e in audit.entries if e.rule == "drift revert"]
    assert event.request["event"] == "policy.drift_revert"
    assert event.request["evidence"]["pairs"] == status.watch.alarm_at
    assert hooks[0][0] == "http://hooks.invalid/x"
    assert hooks[0][1]["action"] == "revert"
    (stored,) = monitor.store.events(router.plan.policy_hash)
    assert stored.action == "revert"
    monitor.close()
    router.close()


def test_shadow_calls_are_booked_apart_from_routed_traffic(tmp_path: Path) -> None:
    router, monitor, ledger, _, _ = build(tmp_path, Answers())
    for i in range(40):
        call(router, i)
    monitor.drain()
    ledger.flush()
    (totals,) = ledger.totals(workflow="aml")
    assert totals.calls == 40  # the routed calls only
    spend = ledger.shadow_spend()
    assert spend[("aml", "screen")][0] == 40
    (status,) = monitor.status()
    assert status.shadow_calls == 40
    assert status.watch.pairs == 40
    assert status.watch.state is not DriftState.drifted
    monitor.close()
    router.close()


def test_a_shadow_call_never_delays_the_answer(tmp_path: Path) -> None:
    answers = Answers()
    router, monitor, _, _, _ = build(tmp_path, answers)
    answers.release.clear()  # the top model now blocks until released
    assert call(router, 1) == "small"  # answered while its shadow call is still blocked
    (status,) = monitor.status()
    assert status.watch.pairs == 0
    answers.release.set()
    monitor.drain()
    assert monitor.status()[0].watch.pairs == 1
    monitor.close()
    router.close()


def test_daily_budget_stops_shadow_calls(tmp_path: Path) -> None:
    text = POLICY.replace("share: 1.0,", "share: 1.0, daily_budget_usd: 0.0001,")
    router, monitor, _, _, _ = build(tmp_path, Answers(), text=text)
    for i in range(30):
        call(router, i)
        monitor.drain()
    (status,) = monitor.status()
    assert status.shadow_calls >= 1
    assert status.skipped_budget == 30 - status.shadow_calls
    assert status.shadow_cost >= Decimal("0.0001")
    monitor.close()
    router.close()


def test_a_restarted_router_keeps_the_revert(tmp_path: Path) -> None:
    answers = Answers(drift_from=1)
    router, monitor, _, _, _ = build(tmp_path, answers)
    for i in range(2000):
        call(router, i)
        monitor.drain()
        if monitor.status()[0].reverted:
            break
    assert monitor.status()[0].reverted
    monitor.close()
    router.close()
    again, monitor2, _, _, _ = build(tmp_path, Answers(), db=tmp_path / "p.db")
    assert again.decide("aml", "screen").rule == "drift revert"
    assert monitor2.status()[0].watch.state is DriftState.drifted
    monitor2.close()
    again.close()


@pytest.mark.parametrize("share", ["0", "1.5", "-0.1"])
def test_bad_share_is_a_located_policy_error(tmp_path: Path, share: str) -> None:
    from phaseroute.errors import PolicyError

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("share: 1.0", f"share: {share}"))
    with pytest.raises(PolicyError) as e:
        load_plan(policy)
    assert "workflows.aml.phases.screen.shadow.share" in str(e.value)


def test_a_judged_phase_is_scored_by_the_judge_as_shadow_spend(tmp_path: Path) -> None:
    text = POLICY.replace(
        "scorer: {type: label, labels: [escalate, dismiss]}",
        "scorer: {type: judge, rubric: right label?, scale: 10}",
    )

    def reply(request) -> str:  # type: ignore[no-untyped-def]
        if request.metadata.get("measure") == "judge":
            return "SCORE: 10" if "escalate" in request.messages[0].content else "SCORE: 1"
        return "escalate" if request.model == "claude-opus-4-1" else "dismiss"

    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    plan = load_plan(policy)
    ledger = UsageLedger.open(tmp_path / "j.db")
    router = Router(
        plan,
        {"main": FakeProvider("main", reply=reply)},
        prices=PriceBook.from_policy(plan.policy),
        ledger=ledger,
        audit=MemoryAuditTrail(),
    )
    monitor = ProductionMonitor(
        plan, MonitorStore(open_engine(tmp_path / "j.db")), notify=lambda *_: None
    ).attach(router)
    for i in range(5):
        router.complete("aml", "screen", [{"role": "user", "content": f"alert {i}"}])
    monitor.drain()
    (status,) = monitor.status()
    assert status.watch.pairs == 5
    assert status.watch.gap == pytest.approx(1.0)  # the judge gave 10/10 vs 1/10
    ledger.flush()
    assert ledger.shadow_spend()[("aml", "screen")][0] == 15  # 5 answers + 10 judgings
    assert status.shadow_cost > 0
    monitor.close()
    router.close()
