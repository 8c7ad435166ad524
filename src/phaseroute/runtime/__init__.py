"""The runtime: the router that enforces the routing plan where calls happen, its
reliability wrappers (retries, fallback, escalation), plan/execute with tools (a small agent
loop), and usage accounting."""

from __future__ import annotations

from phaseroute.runtime._batches import BatchCollection, BatchHandle, BatchOutcome
from phaseroute.runtime._clock import Clock, SystemClock
from phaseroute.runtime._event_stream import AsyncRoutedEventStream
from phaseroute.runtime._ledger import UsageLedger, UsageRecord, UsageTotals
from phaseroute.runtime._plan_execute import (
    PlanExecution,
    Tool,
    ToolRun,
    aplan_and_execute,
    parse_steps,
    plan_and_execute,
)
from phaseroute.runtime._result import (
    AttemptRecord,
    Escalation,
    RouteDecision,
    RoutedResponse,
    Validation,
)
from phaseroute.runtime._retry import RetryPolicy
from phaseroute.runtime._router import Router
from phaseroute.runtime._stream import AsyncRoutedStream, RoutedStream
from phaseroute.runtime._validators import Validator, Verdict, build_validator

__all__ = [
    "AsyncRoutedEventStream",
    "AsyncRoutedStream",
    "AttemptRecord",
    "BatchCollection",
    "BatchHandle",
    "BatchOutcome",
    "Clock",
    "Escalation",
    "PlanExecution",
    "RetryPolicy",
    "RouteDecision",
    "RoutedResponse",
    "RoutedStream",
    "Router",
    "SystemClock",
    "Tool",
    "ToolRun",
    "UsageLedger",
    "UsageRecord",
    "UsageTotals",
    "Validation",
    "Validator",
    "Verdict",
    "aplan_and_execute",
    "build_validator",
    "parse_steps",
    "plan_and_execute",
]
