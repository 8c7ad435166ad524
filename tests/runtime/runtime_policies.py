"""Policies the runtime tests route through (written to a temp dir by each test)."""

from __future__ import annotations

from pathlib import Path

# Three tiers; the top tier has two models (so a failing primary can fall back within its
# tier); screening is cheap with a JSON-schema escalation; drafting may degrade; the
# interpretation phase is audited.
FOUR_MODELS = """
version: 1
tiers: [economy, standard, frontier]
providers:
  main: {type: anthropic, api_key: env:PHASEROUTE_TEST_NO_SUCH_KEY}
  backup: {type: openai_compat, api_key: env:PHASEROUTE_TEST_NO_SUCH_KEY}
models:
  small:  {provider: main, id: claude-haiku-4-5, tier: economy}
  medium: {provider: main, id: claude-sonnet-4-5, tier: standard}
  large:  {provider: main, id: claude-opus-4-1, tier: frontier}
  large2: {provider: backup, id: gpt-4o, tier: frontier}
controls:
  analyst: {description: an analyst reads every alert}
audit: {signing_key: env:PHASEROUTE_TEST_AUDIT_KEY}   # tests inject the trail
workflows:
  wf:
    phases:
      screen:
        kind: screening
        catastrophic_error: throughput
        caught_by: analyst
        escalation:
          validator:
            type: json_schema
            schema:
              type: object
              required: [decision]
              properties: {decision: {enum: [approve, reject]}}
          max_steps: 2
      draft:
        kind: drafting
        catastrophic_error: throughput
        caught_by: analyst
        on_unavailable: degrade
        route: {tier: standard, justification: drafts need the standard tier in tests}
      interpret:
        kind: interpretation
        catastrophic_error: missed_risk
        audit: true
      review:
        kind: review
        catastrophic_error: missed_risk
"""


def write_policy(directory: Path, text: str = FOUR_MODELS, name: str = "policy.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path
