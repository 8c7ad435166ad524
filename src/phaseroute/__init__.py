"""phaseroute: route each phase of an LLM workflow to the model tier it needs.

Declared in a versioned policy, decided by an explicit diagnostic and by measurement,
enforced at run time, costed before rollout, and audited where a regulator will look.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from phaseroute.errors import PhaserouteError
from phaseroute.policy import RoutingPlan, compile_policy, load_plan, load_policy

if TYPE_CHECKING:
    from phaseroute.runtime import (
        PlanExecution,
        RetryPolicy,
        RouteDecision,
        RoutedResponse,
        RoutedStream,
        Router,
        UsageLedger,
        aplan_and_execute,
        plan_and_execute,
    )

# The run-time names load on first use, so commands that only read policies (check,
# explain) do not import the router, its database layer and the audit trail.
_RUNTIME = frozenset(
    {
        "PlanExecution",
        "RetryPolicy",
        "RouteDecision",
        "RoutedResponse",
        "RoutedStream",
        "Router",
        "UsageLedger",
        "aplan_and_execute",
        "plan_and_execute",
    }
)


def __getattr__(name: str) -> object:
    if name in _RUNTIME:
        return getattr(importlib.import_module("phaseroute.runtime"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "PhaserouteError",
    "PlanExecution",
    "RetryPolicy",
    "RouteDecision",
    "RoutedResponse",
    "RoutedStream",
    "Router",
    "RoutingPlan",
    "UsageLedger",
    "__version__",
    "aplan_and_execute",
    "compile_policy",
    "load_plan",
    "load_policy",
    "plan_and_execute",
]
