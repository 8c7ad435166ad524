"""`phaseroute serve`: the Router behind the Anthropic Messages and OpenAI Chat Completions
wire protocols, so any client routes by phase by changing only its base URL.

The gateway calls the `Router` only: one routing engine, with its retries, fallback,
ledger and audit trail. See docs/gateway.md.
"""

from phaseroute.gateway._access import AccessControl, Caller
from phaseroute.gateway._app import create_app
from phaseroute.gateway._error_bodies import ErrorReply, reply_for
from phaseroute.gateway._gateway import DEFAULT_MAX_BODY_BYTES, Gateway, GatewayOptions
from phaseroute.gateway._logs import AccessLog
from phaseroute.gateway._metrics import GatewayMetrics
from phaseroute.gateway._select import (
    CASE_HEADER,
    PHASE_HEADER,
    WORKFLOW_HEADER,
    PhaseSelector,
    Target,
)
from phaseroute.gateway._summary import CallSummary
from phaseroute.gateway._telemetry import GatewayTelemetry

__all__ = [
    "CASE_HEADER",
    "DEFAULT_MAX_BODY_BYTES",
    "PHASE_HEADER",
    "WORKFLOW_HEADER",
    "AccessControl",
    "AccessLog",
    "CallSummary",
    "Caller",
    "ErrorReply",
    "Gateway",
    "GatewayMetrics",
    "GatewayOptions",
    "GatewayTelemetry",
    "PhaseSelector",
    "Target",
    "create_app",
    "reply_for",
]
