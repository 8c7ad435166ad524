"""The offline demo: the AML example measured, routed, served, audited and costed."""

from phaseroute.demo._run import DemoResult, PhaseOutcome, find_example, run_demo

__all__ = ["DemoResult", "PhaseOutcome", "find_example", "run_demo"]
