"""The offline demo: the AML example measured, routed, served, audited and costed."""

from phaseroute.demo._drift import DriftDemoResult, run_drift_demo
from phaseroute.demo._run import DemoResult, PhaseOutcome, find_example, run_demo

__all__ = [
    "DemoResult",
    "DriftDemoResult",
    "PhaseOutcome",
    "find_example",
    "run_demo",
    "run_drift_demo",
]
