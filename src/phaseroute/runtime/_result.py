"""What a routed call returns: the answer, the decision that routed it, and how it got there."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from phaseroute.errors import ValidationFailed
from phaseroute.providers._base import (
    CompletionResponse,
    ContentBlock,
    Message,
    ToolUseBlock,
    Usage,
)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The routing decision a call was made under (from the compiled plan)."""

    workflow: str
    phase: str
    tier: str  # the tier the plan requires for this phase
    model: str  # the plan's primary model (catalogue name)
    model_id: str
    rule: str
    basis: str
    policy_hash: str
    item: ItemScore | None = None  # per-item routing: how this call was scored


@dataclass(frozen=True, slots=True)
class ItemScore:
    """A per-item routed call: the predictor that scored it, its score and the threshold."""

    predictor_sha256: str
    score: float
    threshold: float
    routed_to: str | None  # the cheaper model it went to, None when it stayed on the top tier

    def reason(self) -> str:
        where = f"to {self.routed_to}" if self.routed_to else "kept on the top tier"
        sign = "≥" if self.routed_to else "<"
        return (
            f"Per-item: predictor {self.predictor_sha256[:12]} scored {self.score:.4f} "
            f"{sign} certified threshold {self.threshold:g}, {where}"
        )


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One request sent to one model; `error` is None for the attempt that answered."""

    model: str  # catalogue name
    model_id: str
    tier: str
    provider: str
    error: str | None  # "ErrorClass: message", or None on success
    error_type: str | None = None
    status_code: int | None = None
    retry_after: float | None = None
    waited_s: float = 0.0  # backoff slept before this attempt
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Escalation:
    """One step up the escalation cascade: which answer failed validation, and why."""

    from_model: str
    from_tier: str
    to_model: str
    to_tier: str
    reason: str
    # The discarded answer's bill: it was a complete, paid call.
    usage: Usage
    cost: Decimal | None


@dataclass(frozen=True, slots=True)
class Validation:
    """The validator's verdict on the returned answer (only for phases with escalation)."""

    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RoutedResponse:
    """A routed answer with the decision, the serving model, usage, cost and history.

    `model` is the catalogue model that served the call; `model_reported` the model the
    provider says answered (it can differ behind gateways and aliases). `cost` prices this
    answer; `total_cost` adds answers discarded by escalation. `counterfactual_cost` is this
    answer's usage priced on the top tier's primary model (uniform strongest-model use).
    """

    response: CompletionResponse
    decision: RouteDecision
    model: str
    model_id: str
    tier: str
    provider: str
    usage: Usage
    cost: Decimal | None
    counterfactual_cost: Decimal | None
    price_version: str | None
    latency_s: float
    attempts: tuple[AttemptRecord, ...]
    fallbacks: tuple[str, ...]  # models beyond the first that were tried, in order
    escalations: tuple[Escalation, ...]
    degraded: bool
    validation: Validation | None
    audit_sequence: int | None
    case_id: str | None = None
    stream: bool = False

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def content(self) -> tuple[ContentBlock, ...]:
        """Every block of the answer: text, tool calls, thinking."""
        return self.response.content

    @property
    def tool_calls(self) -> tuple[ToolUseBlock, ...]:
        """The tool calls the answer asks for, in order."""
        return self.response.tool_calls

    @property
    def stop_reason(self) -> str | None:
        """The normalised stop reason (`response.stop_reason_raw` is the provider's)."""
        return self.response.stop_reason

    def message(self) -> Message:
        """The answer as an assistant turn, to append to the conversation (tool history
        included) for the next call — of this phase or another."""
        return Message("assistant", self.response.content)

    @property
    def model_reported(self) -> str:
        return self.response.model_reported

    @property
    def request_id(self) -> str | None:
        return self.response.request_id

    @property
    def total_usage(self) -> Usage:
        """Tokens of this answer plus those of answers discarded by escalation."""
        total = self.usage
        for step in self.escalations:
            total = total + step.usage
        return total

    @property
    def total_cost(self) -> Decimal | None:
        """Cost of this answer plus discarded escalation answers; None if any is unknown."""
        costs = [self.cost, *(e.cost for e in self.escalations)]
        if any(c is None for c in costs):
            return None
        return sum((c for c in costs if c is not None), Decimal(0))

    def raise_for_validation(self) -> RoutedResponse:
        """Raise `ValidationFailed` if the answer failed its validator; else return self."""
        if self.validation is not None and not self.validation.ok:
            raise ValidationFailed(
                f"{self.decision.workflow}/{self.decision.phase}: the answer of {self.model!r} "
                f"({self.tier}) failed validation after {len(self.escalations)} escalation(s): "
                f"{self.validation.reason}"
            )
        return self
