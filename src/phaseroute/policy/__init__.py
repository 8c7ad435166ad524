"""Policy language, loading with line numbers, and the phase diagnostic (compiler)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from phaseroute.policy._compiler import compile_policy, plan_summary, policy_hash
from phaseroute.policy._loader import LoadedPolicy, SourceMap, load_policy, load_policy_text
from phaseroute.policy._plan import Basis, ModelChoice, PhaseDecision, PhaseEvidence, RoutingPlan
from phaseroute.policy._schema import CatastrophicError, Kind, PhaseConfig, Policy

__all__ = [
    "Basis",
    "CatastrophicError",
    "Kind",
    "LoadedPolicy",
    "ModelChoice",
    "PhaseConfig",
    "PhaseDecision",
    "PhaseEvidence",
    "Policy",
    "RoutingPlan",
    "SourceMap",
    "compile_policy",
    "load_plan",
    "load_policy",
    "load_policy_text",
    "plan_summary",
    "policy_hash",
]


def load_plan(
    path: str | Path, evidence: Mapping[tuple[str, str], PhaseEvidence] | None = None
) -> RoutingPlan:
    """Load the policy at `path` and compile it (with measured evidence, when given)."""
    return compile_policy(load_policy(path), evidence)
