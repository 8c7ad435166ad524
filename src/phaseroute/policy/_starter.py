"""A commented starter policy for a described workflow (what `phaseroute init` writes).

The text is written by hand rather than dumped, so every block says what it is for and what
to change; `render_starter` output always passes `check` (a test holds it to that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from phaseroute.policy._schema import CatastrophicError, Kind


@dataclass(frozen=True, slots=True)
class StarterPhase:
    name: str
    kind: Kind
    catastrophic_error: CatastrophicError
    volume: int = 1000
    audit: bool = False
    record: bool = False


@dataclass(frozen=True, slots=True)
class StarterModels:
    provider_name: str
    provider_block: str  # the YAML under providers.<provider_name>
    models: tuple[tuple[str, str, str], ...]  # (name, id, tier), cheapest tier first


STARTER_MODELS: Mapping[str, StarterModels] = {
    "anthropic": StarterModels(
        "anthropic",
        "type: anthropic\n    api_key: env:ANTHROPIC_API_KEY      # a location, never the key",
        (
            ("haiku", "claude-haiku-5-5", "economy"),
            ("sonnet", "claude-sonnet-5-5", "standard"),
            ("opus", "claude-opus-5-5", "frontier"),
        ),
    ),
    "openai": StarterModels(
        "openai",
        "type: openai_compat\n    api_key: env:OPENAI_API_KEY         # a location, never the key",
        (
            ("mini", "gpt-4o-mini", "economy"),
            ("standard", "gpt-5-mini", "standard"),
            ("frontier", "gpt-5", "frontier"),
        ),
    ),
}

TIERS = ("economy", "standard", "frontier")
CONTROL = "human_review"


@dataclass(frozen=True, slots=True)
class StarterSpec:
    workflow: str
    phases: tuple[StarterPhase, ...]
    feeds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provider: str = "anthropic"
    policy_file: str = "phaseroute.yaml"


def render_starter(spec: StarterSpec) -> str:
    """The starter policy's YAML text, with comments."""
    models = STARTER_MODELS[spec.provider]
    width = max(len(name) for name, _, _ in models.models)
    lines = [
        f"# phaseroute policy for the {spec.workflow!r} workflow — a starting point.",
        f"# Every field: docs/policy.md. Validate it with: phaseroute check {spec.policy_file}",
        "version: 1",
        f"description: Routing policy for {spec.workflow}.",
        "",
        f"tiers: [{', '.join(TIERS)}]   # cheapest first: check compares this with the prices",
        "",
        "providers:",
        f"  {models.provider_name}:",
        f"    {models.provider_block}",
        "",
        "models:                               # the first model of a tier is its primary",
    ]
    for name, model_id, tier in models.models:
        pad = " " * (width - len(name))
        lines.append(
            f"  {name}:{pad} {{provider: {models.provider_name}, id: {model_id}, tier: {tier}}}"
        )
    lines += [
        "",
        "controls:   # what catches a phase's mistakes outside the workflow (see caught_by)",
        f"  {CONTROL}:",
        "    description: a person reviews the outcome   # describe your real control",
    ]
    if any(p.audit or p.record for p in spec.phases):
        lines += [
            "",
            "audit:      # audited phases sign their trail with this key; create it once with",
            f"            # phaseroute audit keygen --policy {spec.policy_file}",
            "  signing_key: file:keys/audit.key",
        ]
    lines += [
        "",
        "workflows:",
        f"  {spec.workflow}:",
        "    phases:",
    ]
    for i, p in enumerate(spec.phases):
        if i:
            lines.append("")
        lines += _phase(p, spec.feeds.get(p.name, ()))
    return "\n".join(lines) + "\n"


def _phase(p: StarterPhase, feeds: tuple[str, ...]) -> list[str]:
    ind = "        "
    out = [
        f"      {p.name}:",
        f"{ind}kind: {p.kind.value}",
        f"{ind}description: ''            # what this phase decides or produces",
        f"{ind}catastrophic_error: {p.catastrophic_error.value}"
        + (
            "   # a false negative here is the costly mistake"
            if p.catastrophic_error is CatastrophicError.missed_risk
            else "   # too slow or too expensive at scale is the costly mistake"
        ),
    ]
    if p.catastrophic_error is CatastrophicError.throughput and not p.audit:
        out.append(
            f"{ind}# caught_by: {CONTROL}   # uncomment if it catches this phase's mistakes "
            "(rule 3: cheapest tier)"
        )
    if p.audit:
        out.append(f"{ind}audit: true                # top tier, every call signed and recorded")
    elif p.record:
        out.append(f"{ind}record: true               # record calls in the audit trail")
    if feeds:
        out.append(f"{ind}feeds: [{', '.join(feeds)}]")
    out += [
        f"{ind}{f'volume: {p.volume}':<27}# calls per day, for `phaseroute cost`",
        f"{ind}tokens: {{input: 2000, output: 400}}   # mean per call: replace with yours",
    ]
    if p.catastrophic_error is CatastrophicError.missed_risk:
        out.append(
            f"{ind}quality: {{metric: recall, positive_label: positive, margin: 0.02}}"
            "   # name your risk class"
        )
    else:
        out.append(f"{ind}quality: {{metric: accuracy, margin: 0.05}}")
    return out
