"""Policy language, loading with line numbers, and the phase diagnostic (compiler)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from phaseroute.policy._compiler import compile_policy, plan_summary, policy_hash
from phaseroute.policy._evidence import evidence_from_lock, load_evidence
from phaseroute.policy._loader import LoadedPolicy, SourceMap, load_policy, load_policy_text
from phaseroute.policy._lock import (
    Comparison,
    DatasetRef,
    Interval,
    LockFile,
    ModelMetric,
    PhaseLock,
    lock_path,
    measurement_hash,
    read_lock,
    write_lock,
)
from phaseroute.policy._plan import (
    Basis,
    ItemRouting,
    ModelChoice,
    PhaseDecision,
    PhaseEvidence,
    RoutingPlan,
)
from phaseroute.policy._schema import DEEP_KINDS, CatastrophicError, Kind, PhaseConfig, Policy

__all__ = [
    "DEEP_KINDS",
    "Basis",
    "CatastrophicError",
    "Comparison",
    "DatasetRef",
    "Interval",
    "ItemRouting",
    "Kind",
    "LoadedPolicy",
    "LockFile",
    "ModelChoice",
    "ModelMetric",
    "PhaseConfig",
    "PhaseDecision",
    "PhaseEvidence",
    "PhaseLock",
    "Policy",
    "RoutingPlan",
    "SourceMap",
    "compile_policy",
    "evidence_from_lock",
    "load_evidence",
    "load_plan",
    "load_policy",
    "load_policy_text",
    "lock_path",
    "measurement_hash",
    "plan_summary",
    "policy_hash",
    "read_lock",
    "write_lock",
]


def load_plan(
    path: str | Path, evidence: Mapping[tuple[str, str], PhaseEvidence] | None = None
) -> RoutingPlan:
    """Load the policy at `path` and compile it with its evidence.

    Without explicit `evidence`, the lock file beside the policy (``<stem>.lock.json``) is
    read when present; a malformed lock raises `LockFileError`.
    """
    loaded = load_policy(path)
    if evidence is None:
        evidence = load_evidence(loaded)
    return compile_policy(loaded, evidence)
