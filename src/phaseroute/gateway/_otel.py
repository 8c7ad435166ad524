"""The OpenTelemetry side of gateway tracing; imported only when tracing is on."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from phaseroute import __version__
from phaseroute.gateway._summary import CallSummary

OPERATION = "chat"
Attributes = Callable[[CallSummary], Mapping[str, AttributeValue]]


def exporting_provider(exporter: str, service_name: str) -> TracerProvider:
    """A tracer provider batching spans to the OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_*``
    configure it) or to the console."""
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    else:
        # the exporter package comes with the `otel` extra only
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        span_exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider


class _Span:
    __slots__ = ("_attributes", "_span")

    def __init__(self, span: Span, attributes: Attributes) -> None:
        self._span = span
        self._attributes = attributes

    def finish(self, call: CallSummary) -> None:
        span = self._span
        target = call.model_id or (f"{call.workflow}/{call.phase}" if call.workflow else None)
        span.update_name(f"{OPERATION} {target}" if target else OPERATION)
        span.set_attributes(self._attributes(call))
        if call.status >= 500 or call.error_type is not None:
            span.set_status(Status(StatusCode.ERROR, call.error_type or str(call.status)))
        span.end()


class SpanFactory:
    """Starts CLIENT spans on one tracer provider (never the global one)."""

    def __init__(self, provider: TracerProvider, attributes: Attributes) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("phaseroute.gateway", __version__)
        self._attributes = attributes
        self._propagator = TraceContextTextMapPropagator()

    def start(self, headers: Mapping[str, str] | None) -> _Span:
        parent = self._propagator.extract(headers) if headers else None
        span = self._tracer.start_span(OPERATION, context=parent, kind=SpanKind.CLIENT)
        return _Span(span, self._attributes)

    def shutdown(self) -> None:
        self._provider.shutdown()
