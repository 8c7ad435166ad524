"""OpenTelemetry spans: GenAI attributes, the client's trace, and no-op when not configured."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from observe_support import PROMPT, REFUSED, SECRET, SERVED
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from phaseroute.errors import UserError
from phaseroute.gateway._telemetry import NO_SPAN, GatewayTelemetry


@pytest.fixture
def traced() -> Iterator[tuple[GatewayTelemetry, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = GatewayTelemetry(provider)
    yield telemetry, exporter
    telemetry.shutdown()


def test_a_served_call_is_one_genai_span(
    traced: tuple[GatewayTelemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = traced
    assert telemetry.enabled
    telemetry.start({}).finish(SERVED)
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat claude-opus-5-5"
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "claude-opus-5-5"
    assert attrs["gen_ai.response.model"] == "claude-opus-5-5-20261101"
    assert attrs["gen_ai.response.id"] == "msg_01"
    assert attrs["gen_ai.request.max_tokens"] == 1024
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["gen_ai.usage.input_tokens"] == 100 + 1000 + 10  # cache tokens included
    assert attrs["gen_ai.usage.output_tokens"] == 40
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 10
    assert attrs["phaseroute.workflow"] == "wf"
    assert attrs["phaseroute.phase"] == "decide"
    assert attrs["phaseroute.tier"] == "top"
    assert attrs["phaseroute.model"] == "large"
    assert attrs["phaseroute.cost_usd"] == "0.0123"
    assert attrs["phaseroute.fallbacks"] == 1
    assert attrs["phaseroute.audit.seq"] == 7
    assert attrs["phaseroute.key_id"] == "0123456789ab"
    assert attrs["phaseroute.policy_hash"] == "ab" * 32
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in attrs


def test_no_key_or_content_in_spans(traced: tuple[GatewayTelemetry, InMemorySpanExporter]) -> None:
    telemetry, exporter = traced
    telemetry.start({"x-api-key": SECRET, "authorization": f"Bearer {SECRET}"}).finish(SERVED)
    (span,) = exporter.get_finished_spans()
    text = span.to_json()
    assert SECRET not in text
    assert PROMPT not in text


def test_a_refused_call_is_an_error_span(
    traced: tuple[GatewayTelemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = traced
    telemetry.start().finish(REFUSED)
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat wf/screen"
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "budget_exceeded"
    assert "gen_ai.usage.input_tokens" not in dict(span.attributes or {})


def test_the_span_joins_the_clients_trace(
    traced: tuple[GatewayTelemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = traced
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    telemetry.start({"traceparent": f"00-{trace_id}-{parent}-01"}).finish(SERVED)
    (span,) = exporter.get_finished_spans()
    assert span.context is not None
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent


def test_without_configuration_spans_are_a_shared_no_op() -> None:
    telemetry = GatewayTelemetry.from_environment({})
    assert not telemetry.enabled
    span = telemetry.start({"traceparent": "x"})
    assert span is NO_SPAN
    span.finish(SERVED)
    telemetry.shutdown()
    assert not GatewayTelemetry.from_environment({"OTEL_TRACES_EXPORTER": "none"}).enabled
    off = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}
    assert not GatewayTelemetry.from_environment(off).enabled


def test_configured_from_the_standard_variables() -> None:
    console = GatewayTelemetry.from_environment({"OTEL_TRACES_EXPORTER": "console"})
    assert console.enabled
    console.shutdown()
    with pytest.raises(UserError) as info:
        GatewayTelemetry.from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})
    assert "'otlp' or 'console'" in str(info.value)


def test_status_5xx_without_error_type_is_an_error(
    traced: tuple[GatewayTelemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = traced
    telemetry.start().finish(replace(SERVED, status=502))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
