"""phaseroute: route each phase of an LLM workflow to the model tier it needs.

Declared in a versioned policy, decided by an explicit diagnostic and by measurement,
enforced at run time, costed before rollout, and audited where a regulator will look.
"""

from phaseroute.errors import PhaserouteError
from phaseroute.policy import RoutingPlan, compile_policy, load_plan, load_policy
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
