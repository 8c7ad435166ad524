"""The policy reference (docs/policy.md), generated from the pydantic schema.

Every section, field, type, constraint and default is read from the models in `_schema`, so
a field added there appears here without anyone writing it down. What a field does comes
from, in order: its `Field(description=...)`, the string right below it (an attribute
docstring), the comment beside or right above it in `_schema.py`, or `NOTES` below. Each
field's example is its value in `SAMPLE`, a policy that uses (almost) every field and must
itself pass `check`.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from phaseroute.policy import _schema
from phaseroute.policy._schema import Policy

HEADER = """\
# Policy reference

<!-- Generated from the pydantic schema (src/phaseroute/policy/_schema.py) by
     `python -m phaseroute.policy.reference --write docs/policy.md`. Do not edit by hand:
     a test fails when this file and the schema disagree. -->

A policy is one YAML file. Every mapping rejects keys it does not know; `type` picks the
kind of a provider, scorer or validator. `phaseroute check POLICY` validates it and reports
every problem at once, ordered by line, each with file:line:column, the dotted path and a
fix. `phaseroute init` writes a commented starter policy; the
[AML example](../examples/aml/phaseroute.yaml) is a complete one.

Paths (`outcomes`, `dataset`, `database`, `file:` secrets) are relative to the policy file.
Names (of tiers, models, providers, controls, workflows, phases) use letters, digits, `_`,
`-` and `.`, starting with a letter or digit.
"""

CHECKS = """\
## What `check` verifies beyond the shapes above

- **References**: every `provider`, `tier`, `caught_by`, `feeds` entry, `route.model`,
  `route.tier` and `routing.*_tier` names something the policy declares; `feeds` has no
  cycles and no phase feeds itself; a phase and a control do not share a name.
- **Tiers**: each tier is listed once and has at least one model; `routing.cheap_tier` is not
  above `routing.strong_tier`.
- **Tier order against prices**: `tiers` lists tiers cheapest first, and the price catalogue
  (with `price` overrides) must agree. A tier is priced by its primary model — the first
  model listed with that tier, the one calls go to; if it has no price, by the tier's first
  priced model; a tier with no priced model is not compared. Tiers are compared per call on
  the policy's token mix (the phases' `tokens` weighted by `volume`; 1,000 input and 250
  output tokens when none are declared). A tier that costs more than the tier listed above
  it is an error naming both models and their prices: reorder the tiers, or set `price` to
  what you actually pay.
- **Overrides**: `route` needs a `justification`; an `audit` phase routed below the top tier
  without one is an error, with one it is reported as a policy exception.
- **Per-item routing**: `route.per_item` is allowed on `throughput` phases, and on
  `missed_risk` phases only with `quality.metric: recall`; never on an `audit` phase, and
  not together with `route.tier`/`route.model`. The phases of one workflow with
  `certify: workflow` form one pool: they share one `max_loss`, `delta` and `window`, and a
  `recall` phase pools only with other `recall` phases.
- **Audit**: an `audit: true` or `record: true` phase (or `audit.record_all_phases`) needs
  `audit.signing_key` — create one with `phaseroute audit keygen --policy POLICY`, which
  prints the line to add. `on_unavailable: degrade` is not allowed on an audit phase.
- **Warnings** (the policy is valid; `check` prints them with their location and exits 0):
  a `missed_risk` phase (not an audit phase) whose `quality.metric` is not `recall` — its
  evidence can never move it off the strong tier, because only recall on positives counts.
"""

SAMPLE = """\
version: 1
description: Card-dispute triage at a retail bank.
tiers: [economy, standard, frontier]
routing:
  strong_tier: frontier
  cheap_tier: economy
providers:
  anthropic:
    type: anthropic
    api_key: env:ANTHROPIC_API_KEY
    base_url: https://api.anthropic.com
    timeout_s: 60
    batch_discount: "0.5"
  vllm:
    type: openai_compat
    api_key: env:VLLM_API_KEY
    base_url: http://127.0.0.1:8000/v1
    timeout_s: 30
    batch_discount: "0.5"
  recorded:
    type: replay
    outcomes: data/outcomes.jsonl
models:
  haiku: {provider: anthropic, id: claude-haiku-5-5, tier: economy}
  sonnet: {provider: anthropic, id: claude-sonnet-5-5, tier: standard}
  opus: {provider: anthropic, id: claude-opus-5-5, tier: frontier}
  local:
    provider: vllm
    id: meta-llama/Llama-3.1-8B-Instruct
    tier: economy
    price_ref: llama-3.1-8b-instruct
    price:
      input_per_mtok: "0.05"
      output_per_mtok: "0.10"
      cache_read_per_mtok: "0.01"
      cache_write_per_mtok: "0.06"
controls:
  analyst:
    description: an analyst reads every dispute that is not closed
workflows:
  disputes:
    description: From a customer's dispute to a refund or a rejection.
    phases:
      intake:
        kind: screening
        description: Is the dispute complete and in scope?
        catastrophic_error: throughput
        caught_by: analyst
        feeds: [decision]
        volume: 20000
        tokens: {input: 1500, output: 80}
        quality:
          metric: accuracy
          margin: 0.05
          scorer: {type: label, labels: [complete, incomplete]}
          dataset: data/intake.jsonl
        escalation:
          validator:
            type: confidence
            pattern: "(?i)confidence\\\\s*[:=]\\\\s*([0-9.]+)"
            min: 0.8
          max_steps: 1
        on_unavailable: degrade
        record: false
        redact: true
        shadow: {share: 0.02, daily_budget_usd: "5.00", on_drift: revert, reference: top_tier}
      decision:
        kind: judgment
        description: Refund or reject, and why.
        catastrophic_error: missed_risk
        audit: true
        volume: 2000
        tokens: {input: 6000, output: 600}
        quality: {metric: recall, positive_label: fraud, margin: 0.01}
        route:
          tier: frontier
          model: opus
          justification: the scheme rules require the strongest model on refunds
      letter:
        kind: drafting
        catastrophic_error: throughput
        caught_by: analyst
        quality:
          metric: score
          scorer:
            type: judge
            rubric: polite and complete
            scale: 5
            workflow: disputes
            phase: decision
        escalation:
          validator: {type: regex, pattern: "^Dear "}
      amounts:
        kind: extraction
        catastrophic_error: throughput
        caught_by: analyst
        route:
          per_item: {max_loss: 0.05, delta: 0.05, certify: workflow, window: 5000}
        quality: {scorer: {type: numeric, tolerance: 0.01, relative: true}}
        escalation:
          validator: {type: json_schema, schema: {type: object, required: [amount]}}
      reference:
        kind: extraction
        catastrophic_error: throughput
        caught_by: analyst
        quality: {scorer: {type: exact_match, case_sensitive: true}}
        escalation:
          validator: {type: callable, function: "bank.checks:valid_reference"}
      channel:
        kind: screening
        catastrophic_error: throughput
        caught_by: analyst
        route:
          per_item: {max_loss: 0.05, delta: 0.05, certify: workflow, window: 5000}
        quality: {scorer: {type: regex, pattern: "^(app|branch|phone)$"}}
      summary:
        kind: extraction
        catastrophic_error: throughput
        caught_by: analyst
        quality: {scorer: {type: json_schema, schema: {type: object}}}
database: phaseroute.db
audit:
  signing_key: file:keys/audit.key
  checkpoint_every: 1000
  checkpoint_seconds: 60
  record_all_phases: false
  redact: false
  witness: /mnt/audit-witness
aliases:
  "claude-opus-*": disputes/decision
budgets:
  disputes:
    daily_usd: "50.00"
    phases:
      decision: {daily_usd: "20.00", monthly_usd: "400.00"}
"""

# What a field does, for fields whose declaration in _schema.py carries no comment.
NOTES: dict[str, str] = {
    "Policy.version": "The policy language version.",
    "Policy.description": "What this policy is for; shown nowhere else, read by reviewers.",
    "Policy.tiers": "The tier names, cheapest first (two or more). The order is checked "
    "against catalogue prices.",
    "Policy.routing": "Which tiers rules 2-5 mean by strong and cheap.",
    "Policy.providers": "Named API endpoints; models name one.",
    "Policy.models": "The model catalogue: each model's provider, exact id and tier.",
    "Policy.controls": "Named controls outside the workflows that catch errors "
    "(`caught_by` may name one).",
    "Policy.workflows": "Named workflows, each a set of phases.",
    "Policy.audit": "The tamper-evident audit trail: signing key, checkpoints, redaction.",
    "AnthropicProvider.type": "The Anthropic Messages API (official `anthropic` SDK).",
    "AnthropicProvider.api_key": "Where the API key is read from: `env:NAME` or `file:path`.",
    "AnthropicProvider.base_url": "Another endpoint speaking the Anthropic API "
    "(default: Anthropic's).",
    "AnthropicProvider.timeout_s": "Seconds one HTTP attempt may take.",
    "OpenAICompatProvider.type": "An OpenAI-compatible Chat Completions endpoint "
    "(official `openai` SDK).",
    "OpenAICompatProvider.api_key": "Where the API key is read from; null for endpoints "
    "without authentication.",
    "OpenAICompatProvider.base_url": "The endpoint (default: OpenAI's).",
    "OpenAICompatProvider.timeout_s": "Seconds one HTTP attempt may take.",
    "ReplayProvider.type": "Recorded outcomes served offline (no API, no key).",
    "PriceOverride.input_per_mtok": "USD per million input tokens.",
    "PriceOverride.output_per_mtok": "USD per million output tokens.",
    "PriceOverride.cache_read_per_mtok": "USD per million tokens read from the prompt cache.",
    "PriceOverride.cache_write_per_mtok": "USD per million tokens written to the prompt cache.",
    "ModelConfig.provider": "The provider (under `providers`) that serves this model.",
    "ModelConfig.tier": "The tier (from `tiers`) this model belongs to. The first model "
    "listed with a tier is its primary.",
    "ModelConfig.price": "Prices that replace the catalogue's (e.g. for a self-hosted or "
    "negotiated model). A model with neither a catalogue price nor this is *unpriced*.",
    "ControlConfig.description": "What the control is; quoted in routing reasons.",
    "TokenProfile.input": "Mean input tokens per call.",
    "TokenProfile.output": "Mean output tokens per call.",
    "ExactMatchScorer.type": "The answer equals the expected text.",
    "ExactMatchScorer.case_sensitive": "Compare case-sensitively.",
    "LabelScorer.type": "The answer names the row's label.",
    "LabelScorer.labels": "The possible labels; an answer naming several scores 0.",
    "RegexScorer.type": "The answer matches a regular expression.",
    "RegexScorer.pattern": "The regular expression (Python syntax).",
    "JsonSchemaScorer.type": "The answer is JSON valid against a schema.",
    "JsonSchemaScorer.json_schema": "The JSON Schema (written under the key `schema`).",
    "NumericScorer.type": "The answer is a number close to the expected one.",
    "NumericScorer.tolerance": "Allowed difference.",
    "NumericScorer.relative": "Read `tolerance` as a fraction of the expected value.",
    "JudgeScorer.type": "A model grades the answer against a rubric.",
    "JudgeScorer.rubric": "What the judge grades against.",
    "JudgeScorer.scale": "Grades run from 1 to this.",
    "JudgeScorer.workflow": "The workflow of the routed phase that judges (default: the "
    "top tier's primary model judges).",
    "JudgeScorer.phase": "The routed phase that judges, with `workflow`.",
    "CallableValidator.function": "`module:function` returning a bool or (bool, reason); "
    "the module must be importable where the router runs.",
    "ConfidenceValidator.pattern": "Where the confidence is read: the first capture group.",
    "QualityConfig.metric": "accuracy (right/wrong), recall (on `positive_label` rows; "
    "required for missed_risk phases to move) or score (a graded scorer's mean).",
    "QualityConfig.scorer": "How an answer is scored (default: `label` for recall, "
    "`exact_match` otherwise).",
    "RouteOverride.tier": "Route to this tier.",
    "RouteOverride.model": "Route to this model.",
    "RouteOverride.justification": "Why; mandatory. Shown in `explain` and in audit records.",
    "RouteOverride.per_item": "Certified per-item routing instead of a hand-chosen route "
    "(throughput phases; missed_risk only on recall; never audit). `measure` certifies it.",
    "PerItemRoute.max_loss": "ε: the phase may score at most this share below the top tier.",
    "PerItemRoute.delta": "δ: the chance the ε guarantee fails (over the certification draw).",
    "PerItemRoute.certify": "`phase`: certified on the phase's own items. `workflow`: one "
    "threshold certified on the pooled items of every phase of the workflow that says "
    "`workflow` (same ε and δ), each phase keeping its own predictor; the guarantee is then "
    "over the pool's calls in the measured phase mix (docs/measurement.md).",
    "PerItemRoute.window": "Certify the loss realised over a batch of this many future calls "
    "fixed in advance (e.g. a day's volume) instead of the expected loss: P(the batch's "
    "relative loss > ε) ≤ δ. Holds batch by batch; costs saving (docs/measurement.md).",
    "JsonSchemaValidator.type": "The answer must be JSON valid against a schema.",
    "JsonSchemaValidator.json_schema": "The JSON Schema (written under the key `schema`).",
    "RegexValidator.type": "The answer must match a regular expression.",
    "RegexValidator.pattern": "The regular expression (Python syntax).",
    "CallableValidator.type": "A Python function decides.",
    "ConfidenceValidator.type": "The model's stated confidence must reach `min`.",
    "ConfidenceValidator.min": "The least confidence accepted (0..1).",
    "EscalationConfig.validator": "What a good answer looks like; a failed one climbs a tier.",
    "PhaseConfig.kind": "What the phase does; decides the default tier when nothing else "
    "does (rule 5).",
    "PhaseConfig.catastrophic_error": "The diagnostic question: `missed_risk` (a false "
    "negative on a high-stakes judgment) or `throughput` (too slow / too expensive at scale).",
    "PhaseConfig.description": "What the phase decides or produces.",
    "PhaseConfig.caught_by": "The downstream phase or control that catches this phase's "
    "mistakes (rule 3 needs it to route a throughput phase cheap).",
    "PhaseConfig.audit": "This phase produces the audit trail a regulator scrutinises: top "
    "tier (rule 1), every call recorded and signed.",
    "PhaseConfig.feeds": "Phases of this workflow that consume this phase's output (rule 4).",
    "PhaseConfig.tokens": "Mean tokens per call, for costing.",
    "PhaseConfig.quality": "The metric that matters and the non-inferiority margin.",
    "PhaseConfig.route": "A hand-chosen route; reported as basis `override`.",
    "PhaseConfig.escalation": "Re-run a failed answer one tier up.",
    "PhaseConfig.shadow": "Check a cheaper route in production: a share of its calls also "
    "runs on the top tier, off the caller's path, and a sequential test watches the gap.",
    "WorkflowConfig.description": "What the workflow does.",
    "WorkflowConfig.phases": "The phases, by name.",
    "RoutingDefaults.strong_tier": "The tier rules 2, 4 and 5 mean by strong (default: the "
    "top tier).",
    "RoutingDefaults.cheap_tier": "The tier rules 3 and 5 mean by cheap (default: the "
    "cheapest tier).",
    "AuditConfig.signing_key": "The Ed25519 private key that signs checkpoints: `file:path` "
    "(relative to the policy) or `env:NAME` (PEM text). Required when any phase is recorded.",
    "AuditConfig.checkpoint_every": "Sign a checkpoint after this many records.",
    "AuditConfig.checkpoint_seconds": "…or after this many seconds with unsigned records.",
    "AuditConfig.record_all_phases": "Record every phase's calls, not only audit/record ones.",
    "AuditConfig.redact": "Store digests instead of prompt and response text by default.",
    "BudgetLimit.daily_usd": "Spend limit in USD per UTC calendar day.",
    "BudgetLimit.monthly_usd": "Spend limit in USD per UTC calendar month.",
}


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    default: str
    description: str
    example: str


@dataclass(frozen=True)
class SectionDoc:
    title: str  # where the mapping sits, e.g. workflows.<workflow>.phases.<phase>
    model: type[BaseModel]
    doc: str
    fields: tuple[FieldDoc, ...]


# ------------------------------------------------------------------ descriptions from source


def _comments() -> dict[tuple[str, str], str]:
    """(class, field) -> the docstring or comment written with the field in _schema.py."""
    source = inspect.getsource(_schema)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = source.splitlines()
    out: dict[tuple[str, str], str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for i, stmt in enumerate(body):
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            text = ""
            nxt = body[i + 1] if i + 1 < len(body) else None
            if (
                isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                text = inspect.cleandoc(nxt.value.value)
            elif stmt.end_lineno in comments and "#" in lines[stmt.end_lineno - 1]:
                text = comments[stmt.end_lineno]
            else:
                above: list[str] = []
                line = stmt.lineno - 1
                while line in comments and lines[line - 1].strip().startswith("#"):
                    above.insert(0, comments[line])
                    line -= 1
                text = " ".join(above)
            if text:
                out[(node.name, stmt.target.id)] = _sentence(text)
    return out


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", ")", "?", "!")) else text + "."


# ------------------------------------------------------------------ types


def _alias_pattern(alias: Any) -> str:
    constraints = typing.get_args(alias)[1]
    return str(constraints.pattern)


_NAMED_PATTERNS = {
    _alias_pattern(_schema.Name): "name",
    _alias_pattern(_schema.SecretRef): "secret location (`env:NAME` or `file:path`)",
    _alias_pattern(_schema.FunctionRef): "`module:function`",
}


def _pattern_name(metadata: list[Any]) -> str | None:
    for m in metadata:
        pattern = getattr(m, "pattern", None)
        if pattern is None:
            continue
        return _NAMED_PATTERNS.get(pattern, f"string matching `{pattern}`")
    return None


def _type(annotation: Any, metadata: list[Any] | None = None) -> str:
    metadata = list(metadata or [])
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0], [*metadata, *args[1:]])
    named = _pattern_name(metadata)
    if named is not None and annotation is str:
        return named
    if annotation is Any:
        return "any"
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        text = " \\| ".join(_type(a) for a in members)
        return f"{text} or null" if len(members) < len(args) else text
    if origin is dict:
        return f"mapping of {_type(args[0])} → {_type(args[1])}"
    if origin is list:
        return f"list of {_type(args[0])}"
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return " \\| ".join(f"`{m.value}`" for m in annotation)
        if issubclass(annotation, BaseModel):
            return f"[{_title_word(annotation)}](#{_anchor(annotation)})"
        simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
        if annotation is Decimal:
            return "decimal (write it quoted for exact cents)"
        if annotation in simple:
            return simple[annotation]
        if annotation is dict:
            return "mapping"
    return str(annotation).replace("typing.", "")


def _constraints(info: FieldInfo) -> str:
    parts = []
    for m in info.metadata:
        for attr, word in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(m, getattr(annotated_types, attr.capitalize())):
                parts.append(f"{word} {getattr(m, attr)}")
        if isinstance(m, annotated_types.MinLen) and m.min_length > 0:
            parts.append(f"at least {m.min_length}")
    return f" ({', '.join(parts)})" if parts else ""


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "see below"
        return f"`{_inline(value)}`"
    if info.default is PydanticUndefined:
        return "—"
    if isinstance(info.default, BaseModel):
        return "see below"
    return f"`{_inline(info.default)}`"


def _inline(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Decimal):
        value = str(value)
    if value is None:
        return "null"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


# ------------------------------------------------------------------ sections


def _title_word(model: type[BaseModel]) -> str:
    return model.__name__


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _walk() -> list[tuple[str, type[BaseModel]]]:
    """Every model reachable from Policy, in document order, with the path it sits at."""
    seen: set[type[BaseModel]] = set()
    order: list[tuple[str, type[BaseModel]]] = []

    def visit(path: str, model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        order.append((path, model))
        for name, info in model.model_fields.items():
            key = info.alias or name
            annotation = info.annotation
            origin = typing.get_origin(annotation)
            child = f"{path}.{key}" if path else key
            if origin is dict:
                child += ".<name>"
            elif origin is list:
                child += "[]"
            for sub in _models_in(annotation):
                visit(child, sub)

    visit("", Policy)
    return order


def _examples(sample: BaseModel) -> dict[tuple[str, str], Any]:
    """(class, field) -> the first value the sample policy sets for it."""
    out: dict[tuple[str, str], Any] = {}

    def walk(value: Any) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                if name in value.model_fields_set:
                    out.setdefault((type(value).__name__, name), getattr(value, name))
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(sample)
    return out


def _example(value: Any, key: str) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    elif isinstance(value, dict):
        value = {
            k: v.model_dump(mode="json", by_alias=True, exclude_unset=True)
            if isinstance(v, BaseModel)
            else v
            for k, v in value.items()
        }
        if len(value) > 1:
            value = dict([next(iter(value.items()))])
    text = f"{key}: {_inline(_plain(value))}"
    if len(text) > 90:
        text = text[:87].rstrip() + "…"
    return text


_MISSING = object()


def _made_up(info: FieldInfo) -> Any:
    """An example for a field the sample policy does not set: its default, or a value of
    its type."""
    if not info.is_required():
        default = info.get_default(call_default_factory=True)
        if default not in (None, {}, []) and not isinstance(default, BaseModel):
            return default
    return _value_of(info.annotation)


def _value_of(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _value_of(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return _value_of(next(a for a in args if a is not type(None)))
    if origin is dict:
        return {"name": _value_of(args[1])}
    if origin is list:
        return [_value_of(args[0])]
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, BaseModel):
            return {}
        made = {bool: True, int: 1, float: 0.5, Decimal: "1.00", str: "…"}
        return made.get(annotation, "…")
    return "…"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def sample_policy() -> Policy:
    return Policy.model_validate(yaml.safe_load(SAMPLE))


def sections() -> list[SectionDoc]:
    comments = _comments()
    examples = _examples(sample_policy())
    out = []
    for path, model in _walk():
        fields = []
        for name, info in model.model_fields.items():
            key = info.alias or name
            owners = [c.__name__ for c in model.__mro__ if issubclass(c, BaseModel)]
            description = (
                info.description
                or next((NOTES[f"{o}.{name}"] for o in owners if f"{o}.{name}" in NOTES), None)
                or next((comments[(o, name)] for o in owners if (o, name) in comments), None)
                or "(undocumented: add a comment beside this field in policy/_schema.py)"
            )
            example = next((examples[(o, name)] for o in owners if (o, name) in examples), _MISSING)
            if example is _MISSING:
                example = _made_up(info)
            fields.append(
                FieldDoc(
                    name=key,
                    type=_type(info.annotation, info.metadata) + _constraints(info),
                    default=_default(info),
                    description=description,
                    example=_example(example, key),
                )
            )
        doc = inspect.cleandoc(model.__doc__ or "") if model.__doc__ != BaseModel.__doc__ else ""
        out.append(
            SectionDoc(path or "(top level)", model, _sentence(doc) if doc else "", tuple(fields))
        )
    return out


def render() -> str:
    """docs/policy.md, as generated from the schema now."""
    lines = [HEADER]
    for s in sections():
        lines.append(f'<a id="{_anchor(s.model)}"></a>')
        lines.append(f"## `{s.title}` — {s.model.__name__}")
        lines.append("")
        if s.doc:
            lines.append(s.doc)
            lines.append("")
        lines.append("| field | type | default | what it does | example |")
        lines.append("|---|---|---|---|---|")
        for f in s.fields:
            example = f"`{f.example}`".replace("|", "\\|")
            cells = [f"`{f.name}`", f.type, f.default, f.description.replace("|", "\\|"), example]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(CHECKS)
    lines.append("## A policy using most fields\n")
    lines.append("Every example above is taken from this policy (it passes `check`).\n")
    lines.append("```yaml")
    lines.append(SAMPLE.rstrip())
    lines.append("```")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"
