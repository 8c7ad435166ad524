"""Policies the runtime tests route through (written to a temp dir by each test)."""

from __future__ import annotations

from pathlib import Path

from phaseroute.audit import generate_key_pair

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


def wire_policy(
    directory: Path, base_url: str, sdk: str, *, key: str = "test-key-0123456789", top: str
) -> Path:
    """Two tiers on one SDK provider at `base_url` (the local upstream); phases `wf/judge`
    (audit-recorded) and `wf/answer` (not recorded) are routed to model id `top`. `sdk` is
    "anthropic" or "openai"."""
    (directory / "key.txt").write_text(key)
    generate_key_pair(directory, "audit", force=True)
    kind, url = (
        ("anthropic", base_url) if sdk == "anthropic" else ("openai_compat", base_url + "/v1")
    )
    text = f"""
version: 1
audit: {{signing_key: 'file:audit.key'}}
tiers: [standard, frontier]
providers:
  up: {{type: {kind}, api_key: 'file:key.txt', base_url: '{url}'}}
models:
  mid: {{provider: up, id: {top}-mid, tier: standard}}
  top: {{provider: up, id: {top}, tier: frontier}}
workflows:
  wf:
    phases:
      judge:
        kind: judgment
        catastrophic_error: missed_risk
        record: true
      answer:
        kind: judgment
        catastrophic_error: missed_risk
"""
    return write_policy(directory, text)
