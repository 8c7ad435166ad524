"""OpenTelemetry spans of gateway calls, following the GenAI semantic conventions.

One CLIENT span per routed call, named ``chat <model id>``, with ``gen_ai.*`` attributes
(operation, provider, request and response model, response id, usage including cache
tokens, finish reasons, ``error.type``) and ``phaseroute.*`` attributes (workflow, phase,
tier, catalogue model, policy hash, cost, fallbacks, degraded, audit sequence, key id).
Never content, never a key. A client's W3C ``traceparent`` makes the span part of its trace.

Spans exist only when tracing is configured (`GatewayTelemetry.from_environment`: the
standard ``OTEL_*`` variables, with the ``otel`` extra installed) or a tracer provider is
given. Otherwise `start` returns one shared no-op span: no OpenTelemetry import, no
allocation, no attribute work on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from phaseroute.errors import UserError
from phaseroute.gateway._summary import CallSummary

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from phaseroute.gateway._otel import SpanFactory

OPERATION = "chat"
# gen_ai.provider.name by the policy's provider type (the API spoken, per the conventions)
PROVIDER_NAMES = {
    "anthropic": "anthropic",
    "openai_compat": "openai",
    "replay": "phaseroute.replay",
}


class CallSpan(Protocol):
    """The span of one request: `finish` records what happened and ends it."""

    def finish(self, call: CallSummary) -> None: ...


class _NoSpan:
    __slots__ = ()

    def finish(self, call: CallSummary) -> None:
        return None


NO_SPAN = _NoSpan()


def span_attributes(call: CallSummary) -> dict[str, str | int | float | bool | list[str]]:
    """The span's attributes for a finished call (names, numbers and ids only)."""
    attrs: dict[str, str | int | float | bool | list[str]] = {
        "gen_ai.operation.name": OPERATION,
        "phaseroute.protocol": call.protocol,
        "phaseroute.stream": call.stream,
        "phaseroute.gateway.overhead_s": call.overhead_s,
        "http.response.status_code": call.status,
    }
    optional: dict[str, str | int | None] = {
        "gen_ai.provider.name": PROVIDER_NAMES.get(call.provider or "", call.provider),
        "gen_ai.request.model": call.model_id,
        "gen_ai.response.model": call.model_reported,
        "gen_ai.response.id": call.response_id,
        "gen_ai.request.max_tokens": call.max_tokens,
        "error.type": call.error_type,
        "phaseroute.workflow": call.workflow,
        "phaseroute.phase": call.phase,
        "phaseroute.tier": call.tier,
        "phaseroute.model": call.model,
        "phaseroute.policy_hash": call.policy_hash,
        "phaseroute.audit.seq": call.audit_seq,
        "phaseroute.key_id": call.key_id,
        "phaseroute.case_id": call.case_id,
        "phaseroute.request_id": call.request_id,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    if call.model is not None:
        # the conventions count cache reads and writes inside input_tokens;
        # phaseroute's own input_tokens exclude them (Anthropic's convention)
        attrs["gen_ai.usage.input_tokens"] = (
            call.input_tokens + call.cache_read_tokens + call.cache_write_tokens
        )
        attrs["gen_ai.usage.output_tokens"] = call.output_tokens
        attrs["gen_ai.usage.cache_read.input_tokens"] = call.cache_read_tokens
        attrs["gen_ai.usage.cache_creation.input_tokens"] = call.cache_write_tokens
        attrs["phaseroute.fallbacks"] = call.fallbacks
        attrs["phaseroute.degraded"] = call.degraded
    if call.finish_reason is not None:
        attrs["gen_ai.response.finish_reasons"] = [call.finish_reason]
    if call.cost_usd is not None:
        attrs["phaseroute.cost_usd"] = str(call.cost_usd)
    if call.audit_append_s is not None:
        attrs["phaseroute.audit.append_s"] = call.audit_append_s
    return attrs


class GatewayTelemetry:
    """Starts a span per request when tracing is on; a shared no-op otherwise."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._spans: SpanFactory | None = None
        if tracer_provider is not None:
            # OpenTelemetry is an optional dependency: imported only when tracing is on
            from phaseroute.gateway._otel import SpanFactory  # noqa: PLC0415

            self._spans = SpanFactory(tracer_provider, span_attributes)

    @property
    def enabled(self) -> bool:
        return self._spans is not None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> GatewayTelemetry:
        """Tracing as the standard variables ask: on when ``OTEL_TRACES_EXPORTER`` names an
        exporter (``otlp`` or ``console``) or an ``OTEL_EXPORTER_OTLP_*ENDPOINT`` is set and
        ``OTEL_SDK_DISABLED`` is not true; off (no-op) otherwise."""
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return cls()
        exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        if exporter == "none" or (exporter == "" and not endpoint):
            return cls()
        exporter = exporter or "otlp"
        if exporter not in ("otlp", "console"):
            raise UserError(
                f"OTEL_TRACES_EXPORTER={exporter!r}: the gateway exports spans with "
                "'otlp' or 'console' — set one of them, or 'none'"
            )
        try:
            from phaseroute.gateway._otel import exporting_provider  # noqa: PLC0415

            provider = exporting_provider(
                exporter, environ.get("OTEL_SERVICE_NAME", "phaseroute-gateway")
            )
        except ImportError as e:
            raise UserError(
                "tracing is configured (OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT) "
                f"but OpenTelemetry is not installed ({e.name}) — pip install 'phaseroute[otel]'"
                ", or unset those variables"
            ) from e
        return cls(provider)

    def start(self, headers: Mapping[str, str] | None = None) -> CallSpan:
        """A span starting now, child of the client's ``traceparent`` when it sends one."""
        spans = self._spans
        if spans is None:
            return NO_SPAN
        return spans.start(headers)

    def shutdown(self) -> None:
        """Export the spans still buffered (call at graceful shutdown)."""
        if self._spans is not None:
            self._spans.shutdown()
