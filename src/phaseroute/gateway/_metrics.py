"""Prometheus metrics of the gateway, on a registry of its own (no global state).

Label values come only from the policy (workflow, phase, tier, model names) and from small
fixed sets (protocol, route, status, error type); anything else is counted under
``_other``. So no label can carry a key, a prompt or an unbounded client-chosen string.

Several worker processes: each process has its own registry and `/metrics` shows that
process only. Run replicas as separate processes (or containers) and scrape each one;
Prometheus sums them with ``sum by (...)``. (prometheus_client's multiprocess mode is
not used: it switches every metric in the process to file-backed values through an
environment variable read at import time.)
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from phaseroute.gateway._summary import CallSummary
from phaseroute.policy import RoutingPlan

if TYPE_CHECKING:
    from phaseroute.monitor import PhaseStatus

OTHER = "_other"
NONE = ""
PROTOCOLS = frozenset({"anthropic", "openai"})
ROUTES = frozenset(
    {
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/chat/completions",
        "/v1/models",
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
    }
)
ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
        "upstream_error",
        "timeout_error",
        "incomplete_response",
        "audit_error",
        "client_disconnected",
        "budget_exceeded",
    }
)

# The gateway's own overhead is sub-millisecond when healthy: fine buckets at the bottom.
OVERHEAD_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
AUDIT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


def _allow(value: str | None, allowed: Iterable[str] | frozenset[str]) -> str:
    if value is None:
        return NONE
    return value if value in allowed else OTHER


class GatewayMetrics:
    """Counters and histograms of one gateway process; `render()` serves ``/metrics``."""

    def __init__(self, plan: RoutingPlan | None = None, *, namespace: str = "phaseroute") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.set_plan(plan)
        ns, reg = namespace, self.registry
        route = ("protocol", "workflow", "phase")
        served = ("workflow", "phase", "tier", "model")
        self.requests = Counter(
            "gateway_requests",
            "Requests by route, status and routed phase.",
            ("protocol", "route", "status", "workflow", "phase", "error_type"),
            namespace=ns,
            registry=reg,
        )
        self.in_flight = Gauge(
            "gateway_requests_in_flight", "Requests being served now.", namespace=ns, registry=reg
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "Request received to response finished.",
            (*route, "stream"),
            namespace=ns,
            registry=reg,
            buckets=LATENCY_BUCKETS,
        )
        self.overhead = Histogram(
            "gateway_overhead_seconds",
            "The gateway's own time: request duration minus time waiting on upstream calls.",
            ("protocol", "stream"),
            namespace=ns,
            registry=reg,
            buckets=OVERHEAD_BUCKETS,
        )
        self.upstream = Histogram(
            "gateway_upstream_duration_seconds",
            "Time waiting on upstream calls (all attempts of one request).",
            ("workflow", "phase", "model"),
            namespace=ns,
            registry=reg,
            buckets=LATENCY_BUCKETS,
        )
        self.tokens = Counter(
            "gateway_tokens",
            "Tokens billed, by kind: input (uncached), output, cache_read, cache_write.",
            (*served, "kind"),
            namespace=ns,
            registry=reg,
        )
        self.cost = Counter(
            "gateway_cost_usd",
            "Cost in USD of served calls (calls with a known price).",
            served,
            namespace=ns,
            registry=reg,
        )
        self.fallbacks = Counter(
            "gateway_fallbacks",
            "Models tried and failed before the one that served.",
            ("workflow", "phase"),
            namespace=ns,
            registry=reg,
        )
        self.degraded = Counter(
            "gateway_degraded",
            "Calls served below their phase's tier (policy on_unavailable: degrade).",
            ("workflow", "phase", "tier"),
            namespace=ns,
            registry=reg,
        )
        self.audit_append = Histogram(
            "gateway_audit_append_seconds",
            "Time to append a call's audit record (before the answer is released).",
            namespace=ns,
            registry=reg,
            buckets=AUDIT_BUCKETS,
        )
        self.budget_refusals = Counter(
            "gateway_budget_refusals",
            "Calls refused because a key, workflow or phase budget was spent.",
            ("workflow", "phase"),
            namespace=ns,
            registry=reg,
        )

        self.drift_state = Gauge(
            "drift_state",
            "Production check of a phase: 0 holding, 1 watching, 2 drifted (the alarm).",
            ("workflow", "phase"),
            namespace=ns,
            registry=reg,
        )
        self.drift_alarms = Gauge(
            "drift_alarms",
            "Drift alarms raised for a phase under the current policy.",
            ("workflow", "phase"),
            namespace=ns,
            registry=reg,
        )
        self.drift_gap = Gauge(
            "drift_gap_ratio",
            "Recent quality gap of a phase against the top tier (top minus routed, 0..1).",
            ("workflow", "phase"),
            namespace=ns,
            registry=reg,
        )
        self.shadow_calls = Gauge(
            "shadow_calls",
            "Shadow calls made on the top tier for a phase (not routed traffic).",
            ("workflow", "phase"),
            namespace=ns,
            registry=reg,
        )

    def observe_drift(self, statuses: Iterable[PhaseStatus]) -> None:
        """Set the production-check gauges from the monitor's status (read at scrape time)."""
        levels = {"holding": 0, "watching": 1, "drifted": 2}
        for s in statuses:
            wf, ph = _allow(s.workflow, self._workflows), _allow(s.phase, self._phases)
            self.drift_state.labels(wf, ph).set(levels[s.watch.state.value])
            self.drift_alarms.labels(wf, ph).set(s.alarms)
            self.shadow_calls.labels(wf, ph).set(s.shadow_calls)
            if s.watch.gap is not None:
                self.drift_gap.labels(wf, ph).set(s.watch.gap)

    def set_plan(self, plan: RoutingPlan | None) -> None:
        """The names allowed as label values (call again after a policy reload)."""
        self._workflows: frozenset[str] = frozenset()
        self._phases: frozenset[str] = frozenset()
        self._tiers: frozenset[str] = frozenset()
        self._models: frozenset[str] = frozenset()
        if plan is not None:
            self._workflows = frozenset(plan.policy.workflows)
            self._phases = frozenset(p for wf in plan.policy.workflows.values() for p in wf.phases)
            self._tiers = frozenset(plan.tiers)
            self._models = frozenset(plan.models)

    def tracking(self) -> AbstractContextManager[None]:
        """Counts a request in flight while the block runs: ``with metrics.tracking(): ...``."""
        return self.in_flight.track_inprogress()

    def observe(self, call: CallSummary) -> None:
        """Count one finished request (served, refused or failed)."""
        protocol = _allow(call.protocol, PROTOCOLS)
        workflow = _allow(call.workflow, self._workflows)
        phase = _allow(call.phase, self._phases)
        tier = _allow(call.tier, self._tiers)
        model = _allow(call.model, self._models)
        stream = "true" if call.stream else "false"
        child = self._child
        child(
            self.requests,
            protocol,
            _allow(call.path, ROUTES),
            str(call.status) if 100 <= call.status <= 599 else OTHER,
            workflow,
            phase,
            _allow(call.error_type, ERROR_TYPES),
        ).inc()
        child(self.latency, protocol, workflow, phase, stream).observe(call.duration_s)
        if call.workflow is not None and call.upstream_s > 0:
            child(self.overhead, protocol, stream).observe(call.overhead_s)
            child(self.upstream, workflow, phase, model).observe(call.upstream_s)
        if call.model is not None:
            for kind, count in (
                ("input", call.input_tokens),
                ("output", call.output_tokens),
                ("cache_read", call.cache_read_tokens),
                ("cache_write", call.cache_write_tokens),
            ):
                if count:
                    child(self.tokens, workflow, phase, tier, model, kind).inc(count)
            if call.cost_usd is not None:
                child(self.cost, workflow, phase, tier, model).inc(float(call.cost_usd))
        if call.fallbacks:
            child(self.fallbacks, workflow, phase).inc(call.fallbacks)
        if call.degraded:
            child(self.degraded, workflow, phase, tier).inc()
        if call.audit_append_s is not None:
            self.audit_append.observe(call.audit_append_s)
        if call.error_type == "budget_exceeded":
            child(self.budget_refusals, workflow, phase).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: label values are bounded (see the module
        docstring), and a dict lookup is a fraction of prometheus_client's checks."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> tuple[bytes, str]:
        """The body and content type of a ``/metrics`` response."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
