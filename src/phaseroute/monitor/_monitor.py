"""Keeping a measured route true in production: shadow calls and drift alarms.

`ProductionMonitor` observes a `Router`. For each phase with a ``shadow`` section that is
routed below the top tier, a sampled share of served calls is sent again to the top tier on
the monitor's own worker threads — never on the caller's path, never changing the answer —
within the phase's daily shadow budget. Both answers are scored (`PairScorer`), the pair is
stored, and the phase's `PhaseWatch` is updated. When the drift test rejects "gap <=
margin", the monitor raises the alarm: a log line, a counter in `status()` (exported as a
Prometheus metric by the gateway), an optional webhook, and — with ``on_drift: revert`` —
the phase goes back to the top tier at once, recorded in the audit trail as a policy event
carrying the evidence.

Shadow calls are booked in the usage ledger with outcome ``shadow``: accounted, but never
counted as routed traffic. Several replicas each watch the pairs they made, starting from
the pairs stored under the same policy hash when they start.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from phaseroute.audit import policy_event
from phaseroute.monitor._drift import PhaseWatch, WatchSnapshot
from phaseroute.monitor._scoring import PairScorer
from phaseroute.monitor._store import DriftEvent, MonitorStore, ShadowPair
from phaseroute.policy import RoutingPlan
from phaseroute.policy._schema import JudgeScorer, PhaseConfig, ShadowConfig
from phaseroute.providers._base import CompletionRequest, CompletionResponse

if TYPE_CHECKING:
    from phaseroute.runtime import RoutedResponse, Router

_log = logging.getLogger("phaseroute.monitor")
Notify = Callable[[str, dict[str, object]], None]


@dataclass(frozen=True, slots=True)
class PhaseStatus:
    """One watched phase as `phaseroute drift`, the dashboard and the metrics show it."""

    workflow: str
    phase: str
    routed_model: str
    top_model: str
    share: float
    on_drift: str
    watch: WatchSnapshot
    reverted: bool
    shadow_calls: int
    shadow_cost: Decimal
    skipped_budget: int
    dropped_busy: int
    unscored: int
    failed: int
    alarms: int


@dataclass
class _Phase:
    """Mutable per-phase state; guarded by the monitor's lock."""

    config: ShadowConfig
    scorer: PairScorer
    watch: PhaseWatch
    routed_model: str
    day: str = ""
    spent_today: Decimal = Decimal(0)
    shadow_calls: int = 0
    shadow_cost: Decimal = Decimal(0)
    skipped_budget: int = 0
    dropped_busy: int = 0
    unscored: int = 0
    failed: int = 0
    alarms: int = 0
    reverted: bool = False
    last_event: DriftEvent | None = None


def post_webhook(url: str, payload: dict[str, object]) -> None:
    """POST the event as JSON; a failure is logged, never raised (the alarm stands)."""
    body = json.dumps(payload).encode()
    request = urllib.request.Request(  # the URL comes from the policy, never from a caller
        url, data=body, headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0):
            pass
    except (urllib.error.URLError, OSError) as e:
        _log.warning("drift webhook %s failed: %s", url, e)


class ProductionMonitor:
    """Shadow comparison and drift watch over one router's cheaper-routed phases."""

    def __init__(
        self,
        plan: RoutingPlan,
        store: MonitorStore,
        *,
        rng: random.Random | None = None,
        workers: int = 2,
        max_pending: int = 256,
        notify: Notify = post_webhook,
    ) -> None:
        self.plan = plan
        self.store = store
        self._rng = rng or random.Random()
        self._notify = notify
        self._lock = threading.Lock()
        self._pending = 0
        self._max_pending = max_pending
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="phaseroute-shadow")
        self._router: Router | None = None
        self._top = plan.top_model()
        self._phases: dict[tuple[str, str], _Phase] = {}
        for key, decision in plan.decisions.items():
            config = plan.policy.workflows[key[0]].phases[key[1]]
            if config.shadow is None or decision.model.rank >= self._top.rank:
                continue
            self._phases[key] = _Phase(
                config.shadow,
                PairScorer(
                    config,
                    self._normalise,
                    judge=_ShadowJudge(self, *key),
                    judge_model=self._judge_model(config),
                ),
                PhaseWatch(margin=config.quality.margin, alpha=config.shadow.alpha),
                decision.model.name,
            )

    def _judge_model(self, config: PhaseConfig) -> tuple[str, str]:
        """The model a judge scorer asks: its routed phase's model, else the top tier's."""
        judge = config.quality.scorer
        if isinstance(judge, JudgeScorer) and judge.workflow and judge.phase:
            model = self.plan.decision(judge.workflow, judge.phase).model
            return model.name, model.model_id
        return self._top.name, self._top.model_id

    # ------------------------------------------------------------------ wiring

    def load(self) -> ProductionMonitor:
        """Feed the pairs and events stored under this policy's hash into the watches."""
        for pair in self.store.pairs(self.plan.policy_hash):
            state = self._phases.get((pair.workflow, pair.phase))
            if state is not None:
                state.watch.add(pair.top_score, pair.routed_score)
                state.shadow_calls += 1
                state.shadow_cost += pair.shadow_cost or 0
        for event in self.store.events(self.plan.policy_hash):
            state = self._phases.get((event.workflow, event.phase))
            if state is not None:
                state.alarms += 1
                state.reverted = state.reverted or event.action == "revert"
                state.last_event = event
        return self

    def attach(self, router: Router) -> ProductionMonitor:
        """Observe `router`'s calls, starting from what is stored (reverts stay reverted)."""
        self._router = router
        router.observer = self
        self.load()
        for (workflow, phase), state in self._phases.items():
            if state.reverted and state.last_event is not None:
                router.revert_to_top(workflow, phase, _reason(state.last_event))
        return self

    def close(self, wait: bool = True) -> None:
        """Stop taking shadow work; with `wait`, finish what is queued."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def drain(self) -> None:
        """Block until every shadow call queued so far has finished (tests, shutdown)."""
        self._executor.submit(lambda: None).result()
        while True:
            with self._lock:
                if self._pending == 0:
                    return
            self._executor.submit(lambda: None).result()

    # ------------------------------------------------------------------ observing

    def served(self, request: CompletionRequest, result: RoutedResponse) -> None:
        """Called by the router after each served call: maybe queue a shadow call."""
        state = self._phases.get((result.decision.workflow, result.decision.phase))
        if state is None or state.reverted or result.tier == self._top.tier:
            return
        if self._rng.random() >= state.config.share:
            return
        with self._lock:
            today = datetime.now(UTC).strftime("%Y-%m-%d")
            if state.day != today:
                state.day, state.spent_today = today, Decimal(0)
            budget = state.config.daily_budget_usd
            if budget is not None and state.spent_today >= budget:
                state.skipped_budget += 1
                return
            if self._pending >= self._max_pending:
                state.dropped_busy += 1
                return
            self._pending += 1
        self._executor.submit(self._shadow, state, request, result)

    def _shadow(self, state: _Phase, request: CompletionRequest, result: RoutedResponse) -> None:
        try:
            self._compare(state, request, result)
        except Exception as e:  # a shadow failure must never reach a caller
            with self._lock:
                state.failed += 1
            _log.warning(
                "shadow call for %s/%s failed: %s",
                result.decision.workflow,
                result.decision.phase,
                e,
            )
        finally:
            with self._lock:
                self._pending -= 1

    def _compare(self, state: _Phase, request: CompletionRequest, result: RoutedResponse) -> None:
        router = self._router
        assert router is not None, "attach() the monitor to a router first"
        wf, ph = result.decision.workflow, result.decision.phase
        top = router.call_model(
            self._top.name, replace(request, model=""), workflow=wf, phase=ph, shadow=True
        )
        self._charge((wf, ph), top.cost or Decimal(0))
        with self._lock:
            state.shadow_calls += 1
        scored = state.scorer.score(request, result.response, top.response)
        if scored is None:
            with self._lock:
                state.unscored += 1
            return
        pair = ShadowPair(
            router.clock.now(),
            wf,
            ph,
            self.plan.policy_hash,
            result.model,
            self._top.name,
            scored.routed,
            scored.top,
            scored.scored_by,
            top.cost,
            result.case_id,
        )
        self.store.add_pair(pair)
        with self._lock:
            alarm = state.watch.add(pair.top_score, pair.routed_score)
            snapshot = state.watch.snapshot()
        if alarm:
            self._alarm(state, wf, ph, snapshot)

    def _charge(self, key: tuple[str, str], cost: Decimal) -> None:
        """Book shadow spend (answers and judge calls) against the phase's day."""
        state = self._phases[key]
        with self._lock:
            state.spent_today += cost
            state.shadow_cost += cost

    # ------------------------------------------------------------------ alarms

    def _alarm(self, state: _Phase, workflow: str, phase: str, watch: WatchSnapshot) -> None:
        router = self._router
        assert router is not None
        revert = state.config.on_drift == "revert"
        event = DriftEvent(
            router.clock.now(),
            workflow,
            phase,
            self.plan.policy_hash,
            "revert" if revert else "alarm",
            watch.pairs,
            watch.gap,
            watch.lower,
            watch.upper,
            watch.margin,
        )
        _log.warning(
            "DRIFT %s/%s: %s after %d shadow pairs — gap %s over the last pairs, margin %.3f%s",
            workflow,
            phase,
            "the drift test rejected 'gap <= margin'",
            watch.pairs,
            "n/a" if watch.gap is None else f"{watch.gap:+.3f}",
            watch.margin,
            "; reverting to the top tier" if revert else "",
        )
        if revert:
            router.revert_to_top(workflow, phase, _reason(event))
            event = replace(event, audit_sequence=self._audit(router, state, event))
        with self._lock:
            state.alarms += 1
            state.reverted = state.reverted or revert
            state.last_event = event
        self.store.add_event(event)
        if state.config.webhook:
            self._notify(state.config.webhook, _payload(event, state.routed_model, self._top.name))

    def _audit(self, router: Router, state: _Phase, event: DriftEvent) -> int | None:
        """The revert as a signed, chained policy event (when the router has a trail)."""
        sink = router.audit
        if sink is None:
            return None
        evidence = _payload(event, state.routed_model, self._top.name)
        entry = policy_event(
            workflow=event.workflow,
            phase=event.phase,
            model_requested=self._top.model_id,
            provider=self._top.provider,
            tier=self._top.tier,
            rule="drift revert",
            basis="measured",
            reasons=(_reason(event),),
            policy_hash=event.policy_hash,
            event={"event": "policy.drift_revert", "evidence": evidence},
            at=event.recorded_at,
        )
        try:
            return sink.append(entry).sequence
        except Exception as e:  # the revert stands even if the record cannot be written
            _log.error(
                "drift revert of %s/%s not audit-recorded: %s", event.workflow, event.phase, e
            )
            return None

    # ------------------------------------------------------------------ reading

    def status(self) -> list[PhaseStatus]:
        """Every watched phase, in policy order."""
        with self._lock:
            return [
                PhaseStatus(
                    wf,
                    ph,
                    s.routed_model,
                    self._top.name,
                    s.config.share,
                    s.config.on_drift,
                    s.watch.snapshot(),
                    s.reverted,
                    s.shadow_calls,
                    s.shadow_cost,
                    s.skipped_budget,
                    s.dropped_busy,
                    s.unscored,
                    s.failed,
                    s.alarms,
                )
                for (wf, ph), s in self._phases.items()
            ]

    def _normalise(self, response: CompletionResponse) -> float | None:
        """A replayed answer's recorded score on 0..1, else None."""
        if response.recorded_score is None or self._router is None:
            return None
        provider = self._router.providers.get(response.provider)
        outcomes = getattr(getattr(provider, "built", provider), "outcomes", None)
        if outcomes is None:
            return None
        return float(outcomes.normalised(response.recorded_score))


class _ShadowJudge:
    """The judge's model calls, made through the router and booked as shadow spend."""

    def __init__(self, monitor: ProductionMonitor, workflow: str, phase: str) -> None:
        self._monitor = monitor
        self._workflow = workflow
        self._phase = phase

    def call_model(
        self, model_name: str, request: CompletionRequest, *, purpose: str
    ) -> CompletionResponse:
        router = self._monitor._router
        assert router is not None, "attach() the monitor to a router first"
        result = router.call_model(
            model_name, request, workflow=self._workflow, phase=self._phase, shadow=True
        )
        self._monitor._charge((self._workflow, self._phase), result.cost or Decimal(0))
        return result.response


def _reason(event: DriftEvent) -> str:
    gap = "n/a" if event.gap is None else f"{event.gap:+.3f}"
    return (
        f"drift: after {event.pairs} shadow pairs the sequential test rejected "
        f"'gap <= margin {event.margin:.3f}' (recent gap {gap}, alpha-level evidence); "
        "reverted to the top tier"
    )


def _payload(event: DriftEvent, routed_model: str, top_model: str) -> dict[str, object]:
    return {
        "event": "phaseroute.drift",
        "action": event.action,
        "workflow": event.workflow,
        "phase": event.phase,
        "policy_hash": event.policy_hash,
        "routed_model": routed_model,
        "top_model": top_model,
        "pairs": event.pairs,
        "gap": event.gap,
        "interval": [event.lower, event.upper],
        "margin": event.margin,
        "at": event.recorded_at.astimezone(UTC).isoformat(),
    }


def status_json(statuses: list[PhaseStatus]) -> str:
    """Machine-readable `phaseroute drift` output."""
    return json.dumps(
        [
            {
                "workflow": s.workflow,
                "phase": s.phase,
                "routed_model": s.routed_model,
                "top_model": s.top_model,
                "state": s.watch.state.value,
                "pairs": s.watch.pairs,
                "gap": s.watch.gap,
                "lower": s.watch.lower,
                "upper": s.watch.upper,
                "margin": s.watch.margin,
                "reverted": s.reverted,
                "shadow_calls": s.shadow_calls,
                "shadow_cost_usd": str(s.shadow_cost),
                "alarms": s.alarms,
            }
            for s in statuses
        ],
        indent=2,
    )
