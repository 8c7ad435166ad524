"""The offline demos: the AML example measured, routed, served, audited and costed; and an
agent whose execution phase calls tools on the cheap tier."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from phaseroute.demo._drift import DriftDemoResult, run_drift_demo
from phaseroute.demo._run import DemoResult, PhaseOutcome, find_example, run_demo

if TYPE_CHECKING:
    from phaseroute.demo._agent import AgentDemoResult, run_agent_demo

# The agent demo loads the router, the SDKs and the local upstream: only when it runs.
_LAZY = frozenset({"AgentDemoResult", "run_agent_demo"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module("phaseroute.demo._agent"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AgentDemoResult",
    "DemoResult",
    "DriftDemoResult",
    "PhaseOutcome",
    "find_example",
    "run_agent_demo",
    "run_demo",
    "run_drift_demo",
]
