"""Prometheus metrics: what is counted, bounded labels, no keys or content, no global state."""

from __future__ import annotations

from access_support import plan_with
from observe_support import PROMPT, REFUSED, SECRET, SERVED, hostile
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from phaseroute.gateway._metrics import GatewayMetrics


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    matches = [
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == want for k, want in labels.items())
    ]
    assert matches, f"no sample {name} {labels}"
    return sum(matches)


def test_a_served_call_is_counted_everywhere() -> None:
    metrics = GatewayMetrics(plan_with())
    with metrics.tracking():
        assert _value(_samples(metrics), "phaseroute_gateway_requests_in_flight") == 1
        metrics.observe(SERVED)
    s = _samples(metrics)
    p = "phaseroute_gateway_"
    assert _value(s, f"{p}requests_in_flight") == 0
    assert _value(s, f"{p}requests_total", status="200", workflow="wf", phase="decide") == 1
    assert _value(s, f"{p}request_duration_seconds_count", stream="true") == 1
    assert abs(_value(s, f"{p}overhead_seconds_sum") - 0.0013) < 1e-9
    assert _value(s, f"{p}overhead_seconds_bucket", le="0.0015") == 1
    assert _value(s, f"{p}overhead_seconds_bucket", le="0.001") == 0
    assert _value(s, f"{p}upstream_duration_seconds_sum", model="large") == 0.25
    assert _value(s, f"{p}tokens_total", kind="input", tier="top") == 100
    assert _value(s, f"{p}tokens_total", kind="output") == 40
    assert _value(s, f"{p}tokens_total", kind="cache_read") == 1000
    assert _value(s, f"{p}tokens_total", kind="cache_write") == 10
    assert _value(s, f"{p}cost_usd_total", model="large") == 0.0123
    assert _value(s, f"{p}fallbacks_total", phase="decide") == 1
    assert _value(s, f"{p}audit_append_seconds_count") == 1
    assert not any(n == f"{p}degraded_total" for n, _ in s)
    assert not any(n == f"{p}budget_refusals_total" for n, _ in s)


def test_budget_refusals_and_refused_calls() -> None:
    metrics = GatewayMetrics(plan_with())
    metrics.observe(REFUSED)
    s = _samples(metrics)
    p = "phaseroute_gateway_"
    assert _value(s, f"{p}budget_refusals_total", workflow="wf", phase="screen") == 1
    assert _value(s, f"{p}requests_total", status="429", error_type="budget_exceeded") == 1
    # no upstream call: no overhead or upstream observation, no tokens
    assert not any(n == f"{p}overhead_seconds_count" for n, _ in s)
    assert not any(n == f"{p}tokens_total" for n, _ in s)


def test_labels_never_carry_keys_content_or_unknown_names() -> None:
    metrics = GatewayMetrics(plan_with())
    metrics.observe(hostile())
    body = metrics.render()[0].decode()
    assert SECRET not in body
    assert PROMPT not in body
    assert "0123456789ab" not in body  # not even the public key id: unbounded cardinality
    s = _samples(metrics)
    assert _value(s, "phaseroute_gateway_requests_total", workflow="_other", phase="_other") == 1


def test_each_instance_has_its_own_registry() -> None:
    a, b = GatewayMetrics(plan_with()), GatewayMetrics(plan_with())
    a.observe(SERVED)
    assert "phaseroute_gateway_requests_total{" in a.render()[0].decode()
    assert "phaseroute_gateway_requests_total{" not in b.render()[0].decode()
    assert "phaseroute_gateway_requests" not in REGISTRY._names_to_collectors


def test_a_reloaded_plan_changes_the_allowed_names() -> None:
    metrics = GatewayMetrics(None)
    metrics.observe(SERVED)
    metrics.set_plan(plan_with())
    metrics.observe(SERVED)
    s = _samples(metrics)
    assert _value(s, "phaseroute_gateway_requests_total", workflow="_other") == 1
    assert _value(s, "phaseroute_gateway_requests_total", workflow="wf") == 1
