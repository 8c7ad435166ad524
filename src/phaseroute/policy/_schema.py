"""The policy language: strict pydantic models for the YAML a team writes.

Every model forbids unknown keys; tagged unions switch on ``type``. This pass checks
shapes and types only — cross-references (models, tiers, phases, controls) are checked by
the compiler, which knows where each key sits in the file.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
# Secrets are named by location, never written in the policy.
SecretRef = Annotated[
    str, StringConstraints(pattern=r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$", max_length=500)
]
# A gateway alias: a glob over client model names, and the "WORKFLOW/PHASE" it routes to.
AliasPattern = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@*?\[\]/-]+$", max_length=200)
]
PhaseRef = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=201
    ),
]
FunctionRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", max_length=300)
]


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


class Kind(StrEnum):
    """What a phase does; decides the default tier when nothing else does (rule 5)."""

    planning = "planning"
    architecture = "architecture"
    interpretation = "interpretation"
    judgment = "judgment"
    screening = "screening"
    extraction = "extraction"
    drafting = "drafting"
    execution = "execution"
    review = "review"


DEEP_KINDS = frozenset(
    {Kind.planning, Kind.architecture, Kind.interpretation, Kind.judgment, Kind.review}
)


class CatastrophicError(StrEnum):
    """The diagnostic question: what is the worst thing a too-weak model does here?"""

    missed_risk = "missed_risk"  # a false negative on a high-stakes judgment
    throughput = "throughput"  # too slow or too expensive at scale


# ------------------------------------------------------------------ providers and models


class AnthropicProvider(Strict):
    type: Literal["anthropic"]
    api_key: SecretRef = "env:ANTHROPIC_API_KEY"
    base_url: str | None = None
    timeout_s: float = Field(default=120.0, gt=0)
    # Share taken off the price of batch calls where the price catalogue has no batch price
    # (default 0.5: the Message Batches API's published 50%).
    batch_discount: Decimal | None = Field(default=None, ge=0, lt=1)


class OpenAICompatProvider(Strict):
    """Any OpenAI-compatible endpoint: OpenAI, Azure, vLLM, Ollama, OpenRouter."""

    type: Literal["openai_compat"]
    api_key: SecretRef | None = "env:OPENAI_API_KEY"
    base_url: str | None = None
    timeout_s: float = Field(default=120.0, gt=0)
    # Share taken off the price of batch calls where the price catalogue has no batch price
    # (default 0.5: the OpenAI Batch API's published 50%).
    batch_discount: Decimal | None = Field(default=None, ge=0, lt=1)


class ReplayProvider(Strict):
    """Serves recorded outcomes (see the recorded-outcome format) with no network."""

    type: Literal["replay"]
    outcomes: str  # path, relative to the policy file
    # Output tokens counted for an answer the file records only the score of (no text);
    # 1 suits one-letter answers such as MMLU's.
    unrecorded_output_tokens: int = Field(default=1, ge=0)


ProviderConfig = Annotated[
    AnthropicProvider | OpenAICompatProvider | ReplayProvider, Field(discriminator="type")
]


class PriceOverride(Strict):
    """Prices in USD per million tokens, overriding the maintained catalogue."""

    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cache_read_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_per_mtok: Decimal | None = Field(default=None, ge=0)


class ModelConfig(Strict):
    provider: Name
    id: str = Field(min_length=1)  # the exact model id sent to the provider
    tier: Name
    # The name the price catalogue knows this model by, when it differs from `id`.
    price_ref: str | None = None
    price: PriceOverride | None = None


class ControlConfig(Strict):
    """A named control outside the workflow that catches errors (human review, validator)."""

    description: str = ""


# ------------------------------------------------------------------ phases


class TokenProfile(Strict):
    input: int = Field(ge=0)
    output: int = Field(ge=0)
    # Share of the input that is a prefix shared between calls (system prompt, tools,
    # documents) and so can be read from the prompt cache; used by the cost projection.
    cacheable: float = Field(default=0.0, ge=0, le=1)


class ExactMatchScorer(Strict):
    type: Literal["exact_match"]
    case_sensitive: bool = False


class LabelScorer(Strict):
    type: Literal["label"]
    labels: list[str] | None = None


class RegexScorer(Strict):
    type: Literal["regex"]
    pattern: str


class JsonSchemaScorer(Strict):
    type: Literal["json_schema"]
    json_schema: dict[str, Any] = Field(alias="schema")


class NumericScorer(Strict):
    type: Literal["numeric"]
    tolerance: float = Field(default=0.0, ge=0)
    relative: bool = False


class JudgeScorer(Strict):
    type: Literal["judge"]
    rubric: str
    scale: int = Field(default=10, ge=2)
    workflow: Name | None = None  # the routed phase that judges; default: the top tier
    phase: Name | None = None


ScorerConfig = Annotated[
    ExactMatchScorer | LabelScorer | RegexScorer | JsonSchemaScorer | NumericScorer | JudgeScorer,
    Field(discriminator="type"),
]


class QualityConfig(Strict):
    """The metric that matters for this phase and how much worse a cheaper tier may be."""

    metric: Literal["accuracy", "recall", "score"] = "accuracy"
    # Non-inferiority margin on the metric's 0..1 scale: a cheaper model is acceptable when
    # the upper confidence bound of (top tier - cheaper) is below this.
    margin: float = Field(default=0.02, gt=0, le=1)
    positive_label: str | None = None  # the risk class, for recall
    scorer: ScorerConfig | None = None
    dataset: str | None = None  # labelled dataset for live measurement, relative to the policy


class PerItemRoute(Strict):
    """Certified per-item routing inside the phase: each call goes to the cheapest model whose
    routing priority (predicted loss per unit of cost saved) clears a threshold certified so
    that P(the phase's relative quality loss > max_loss) ≤ delta (`phaseroute measure`).

    ``certify: workflow`` certifies the phase together with every other phase of its workflow
    that says so: each keeps its own predictor, one threshold is certified on their pooled
    items, and the guarantee is over the pool's calls in the measured phase mix.

    ``window: N`` makes the guarantee about the loss realised over a batch of N future calls
    fixed in advance (a day's calls, say), not the expected loss; it costs saving."""

    max_loss: float = Field(gt=0, lt=1)  # ε: 0.05 = at most 5% below the top tier's score
    delta: float = Field(default=0.05, gt=0, lt=0.5)  # δ: chance the guarantee fails
    certify: Literal["phase", "workflow"] = "phase"
    # Certify the loss realised over a batch of this many future calls (e.g. a day's volume)
    # instead of the expected loss: P(the batch's relative loss > max_loss) ≤ delta. Costlier.
    window: int | None = Field(default=None, ge=1)


class RouteOverride(Strict):
    """A hand-chosen route (`justification` is mandatory), or per-item routing."""

    tier: Name | None = None
    model: Name | None = None
    justification: str | None = None
    per_item: PerItemRoute | None = None


class JsonSchemaValidator(Strict):
    type: Literal["json_schema"]
    json_schema: dict[str, Any] = Field(alias="schema")


class RegexValidator(Strict):
    type: Literal["regex"]
    pattern: str


class CallableValidator(Strict):
    type: Literal["callable"]
    function: FunctionRef  # module:function, returns bool or (bool, reason)


class ConfidenceValidator(Strict):
    """Reads a confidence the model states (first capture group of `pattern`)."""

    type: Literal["confidence"]
    pattern: str = r"(?i)confidence\s*[:=]\s*([0-9]*\.?[0-9]+)"
    min: float = Field(ge=0, le=1)


ValidatorConfig = Annotated[
    JsonSchemaValidator | RegexValidator | CallableValidator | ConfidenceValidator,
    Field(discriminator="type"),
]


class EscalationConfig(Strict):
    validator: ValidatorConfig
    max_steps: int = Field(default=1, ge=1, le=5)  # tiers to climb at most


class ShadowConfig(Strict):
    """Production check of a phase routed below the top tier: a sampled share of its live
    calls is also sent to the top tier off the caller's path, both answers are scored with
    the phase's `quality` section, and a sequential test watches the gap for drift."""

    share: float = Field(gt=0, le=1)  # fraction of live calls shadowed, e.g. 0.02
    daily_budget_usd: Decimal | None = Field(default=None, gt=0)  # shadow spend per UTC day
    on_drift: Literal["alarm", "revert"] = "alarm"  # revert: back to the top tier at once
    alpha: float = Field(default=0.01, gt=0, lt=0.5)  # chance of ever raising a false alarm
    # What the routed answer is scored against when the scorer needs an expected answer or
    # label: `label` reads it from the call's metadata (`expected` / `label`; calls without
    # one are not compared); `top_tier` takes the top tier's answer as the reference — a
    # conservative stand-in (disagreement bounds the loss from above: alarms come earlier).
    reference: Literal["label", "top_tier"] = "label"
    webhook: str | None = Field(default=None, pattern=r"^https?://")  # POSTed on drift


class PhaseConfig(Strict):
    kind: Kind
    catastrophic_error: CatastrophicError
    description: str = ""
    caught_by: Name | None = None
    audit: bool = False
    feeds: list[Name] = Field(default_factory=list)
    volume: int = Field(default=0, ge=0)  # calls per day
    tokens: TokenProfile | None = None
    quality: QualityConfig = Field(default_factory=QualityConfig)
    route: RouteOverride | None = None
    escalation: EscalationConfig | None = None
    # What to do when no model of the phase's tier can answer: fail loudly (default) or
    # take a lower tier with the downgrade recorded. Never allowed for audit phases.
    on_unavailable: Literal["fail", "degrade"] = "fail"
    record: bool | None = None  # audit-record calls of this non-audit phase
    # The phase tolerates batch latency (up to 24 h): it may run through the providers'
    # batch APIs at batch prices (`Router.submit_batch`, `phaseroute batch`).
    batch: bool = False
    redact: bool | None = None  # store digests instead of prompt/response content
    shadow: ShadowConfig | None = None


class WorkflowConfig(Strict):
    description: str = ""
    phases: dict[Name, PhaseConfig] = Field(min_length=1)


class RoutingDefaults(Strict):
    """Which tiers rules 2-5 mean by "strong" and "cheap" (default: top and bottom)."""

    strong_tier: Name | None = None
    cheap_tier: Name | None = None


class AuditConfig(Strict):
    signing_key: SecretRef | None = None
    checkpoint_every: int = Field(default=1000, ge=1)
    checkpoint_seconds: float = Field(default=60.0, gt=0)
    record_all_phases: bool = False
    redact: bool = False
    # A witness directory (relative to the policy) that every signed tree head is published
    # to; `phaseroute audit verify --witness DIR` then catches truncation and rollback.
    witness: str | None = None


class BudgetLimit(Strict):
    """Spend limits in USD per UTC calendar day and month; at least one is given (lint)."""

    daily_usd: Decimal | None = Field(default=None, gt=0)
    monthly_usd: Decimal | None = Field(default=None, gt=0)


class WorkflowBudget(BudgetLimit):
    """A workflow's budget and, under `phases`, budgets of its phases (checked by the gateway)."""

    phases: dict[Name, BudgetLimit] = Field(default_factory=dict)  # budgets of single phases


class Policy(Strict):
    version: Literal[1]
    description: str = ""
    tiers: list[Name] = Field(min_length=2)  # cheapest first
    routing: RoutingDefaults = Field(default_factory=RoutingDefaults)
    providers: dict[Name, ProviderConfig] = Field(min_length=1)
    models: dict[Name, ModelConfig] = Field(min_length=1)
    controls: dict[Name, ControlConfig] = Field(default_factory=dict)
    workflows: dict[Name, WorkflowConfig] = Field(min_length=1)
    database: str | None = None  # SQLite path (relative to the policy) or postgresql:// URL
    audit: AuditConfig = Field(default_factory=AuditConfig)
    # Gateway model aliases: a client's own model name (a glob such as `claude-opus-*`)
    # -> "WORKFLOW/PHASE", so an unmodified client routes by phase. Checked by the linter.
    aliases: dict[AliasPattern, PhaseRef] = Field(default_factory=dict)
    budgets: dict[Name, WorkflowBudget] = Field(default_factory=dict)  # enforced by the gateway
