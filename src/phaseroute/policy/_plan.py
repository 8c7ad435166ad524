"""The compiled routing plan: immutable, explained, and stamped with the policy's hash."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from phaseroute.errors import Problem, RequestError
from phaseroute.policy._schema import EscalationConfig, Kind, Policy
from phaseroute.routing._predictor import ItemPredictor


class Basis(StrEnum):
    """What a phase's route rests on."""

    rule = "rule"  # the diagnostic's rules alone
    measured = "measured"  # evidence from a measurement (lock file)
    override = "override"  # a justified hand-written route


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One catalogue model as the router needs it."""

    name: str
    provider: str
    model_id: str
    tier: str
    rank: int  # position of `tier` in the policy's tier order, 0 = cheapest


@dataclass(frozen=True, slots=True)
class PhaseEvidence:
    """What measurement concluded for one phase (read from the lock file).

    `model` is the cheapest model measured non-inferior to the top tier, or None when the
    evidence was not enough to decide. `stale` / `suspicious` say why it must not be used.
    """

    workflow: str
    phase: str
    metric: str
    summary: str
    model: str | None
    stale: str | None = None
    suspicious: str | None = None
    per_item: PerItemEvidence | None = None  # certified per-item routing, when measured
    phase_measured: bool = True  # False: the lock holds only per-item evidence


@dataclass(frozen=True, slots=True)
class PerItemEvidence:
    """A certified per-item threshold from the lock file (`phaseroute.routing`)."""

    max_loss: float
    delta: float
    threshold: float | None  # None: nothing could be certified
    predictor: ItemPredictor | None  # None: the stored one cannot be read (`stale` says why)
    candidates: tuple[str, ...]  # catalogue names, cheapest first (the predictor's order)
    summary: str
    stale: str | None = None


@dataclass(frozen=True, slots=True)
class ItemRouting:
    """Per-item routing of a phase at run time: score each call, route by the threshold."""

    threshold: float
    predictor: ItemPredictor
    candidates: tuple[ModelChoice, ...]  # cheapest first, aligned with the predictor's scores
    max_loss: float
    delta: float

    def choose(self, text: str) -> tuple[ModelChoice | None, float]:
        """The cheapest candidate whose priority clears the threshold (None: stay on the
        phase's model) and the highest priority seen."""
        scores = self.predictor.score(text)
        for candidate, score in zip(self.candidates, scores, strict=True):
            if score >= self.threshold:
                return candidate, score
        return None, max(scores, default=0.0)


@dataclass(frozen=True, slots=True)
class PhaseDecision:
    """The route of one phase and everything that explains and enforces it."""

    workflow: str
    phase: str
    kind: Kind
    tier: str
    model: ModelChoice
    basis: Basis
    rule: str  # the rule that decided, e.g. "rule 1: audit"
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    # Same-tier then higher-tier models, in order: where a failed call may go next.
    fallbacks: tuple[ModelChoice, ...]
    # Lower-tier models a call may degrade to (only when the policy allows it).
    degrade_to: tuple[ModelChoice, ...]
    # The first model of each higher tier, for the escalation cascade.
    escalate_to: tuple[ModelChoice, ...]
    escalation: EscalationConfig | None
    audit: bool
    record: bool
    redact: bool
    volume: int
    tokens_in: int | None
    tokens_out: int | None
    per_item: ItemRouting | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.workflow, self.phase)


@dataclass(frozen=True)
class RoutingPlan:
    """Every phase's decision, for one policy (and its evidence), identified by hash."""

    policy: Policy
    policy_hash: str
    evidence_hash: str | None
    tiers: tuple[str, ...]
    decisions: Mapping[tuple[str, str], PhaseDecision]
    models: Mapping[str, ModelChoice]
    base_dir: Path = field(default_factory=Path.cwd)
    # Located warnings of the policy as written (valid, but probably not what was meant).
    notices: tuple[Problem, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "decisions", MappingProxyType(dict(self.decisions)))
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))

    @property
    def top_tier(self) -> str:
        return self.tiers[-1]

    def decision(self, workflow: str, phase: str) -> PhaseDecision:
        """The decision for `workflow`/`phase`; a clear `RequestError` if there is none."""
        try:
            return self.decisions[(workflow, phase)]
        except KeyError:
            if workflow not in self.policy.workflows:
                known = ", ".join(sorted(self.policy.workflows)) or "none"
                raise RequestError(
                    f"unknown workflow {workflow!r} (this policy has: {known})"
                ) from None
            known = ", ".join(self.policy.workflows[workflow].phases)
            raise RequestError(
                f"unknown phase {phase!r} in workflow {workflow!r} (it has: {known})"
            ) from None

    def __iter__(self) -> Iterator[PhaseDecision]:
        return iter(self.decisions.values())

    def for_workflow(self, workflow: str) -> list[PhaseDecision]:
        """The decisions of one workflow's phases, in declaration order."""
        if workflow not in self.policy.workflows:
            known = ", ".join(sorted(self.policy.workflows))
            raise RequestError(f"unknown workflow {workflow!r} (this policy has: {known})")
        return [d for d in self.decisions.values() if d.workflow == workflow]

    def top_model(self) -> ModelChoice:
        """The primary model of the top tier: the counterfactual of uniform top-tier use."""
        return min(
            (m for m in self.models.values() if m.tier == self.top_tier),
            key=lambda m: list(self.models).index(m.name),
        )

    def cheapest_model(self) -> ModelChoice:
        """The primary model of the cheapest tier."""
        return next(m for m in self.models.values() if m.tier == self.tiers[0])
