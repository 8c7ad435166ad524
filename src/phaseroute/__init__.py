"""phaseroute: route each phase of an LLM workflow to the model tier it needs.

Declared in a versioned policy, decided by an explicit diagnostic and by measurement,
enforced at run time, costed before rollout, and audited where a regulator will look.
"""

from phaseroute.errors import PhaserouteError
from phaseroute.policy import RoutingPlan, compile_policy, load_plan, load_policy

__version__ = "0.1.0"

__all__ = [
    "PhaserouteError",
    "RoutingPlan",
    "__version__",
    "compile_policy",
    "load_plan",
    "load_policy",
]
