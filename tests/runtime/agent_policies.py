"""An agent workflow whose tiers sit on both protocols, pointed at the local upstream."""

from __future__ import annotations

from pathlib import Path

from phaseroute.testing.upstream import Upstream

CHEAP = "exec-small"
STANDARD = "exec-medium"
TOP = "plan-large"

AGENT_POLICY = """
version: 1
audit: {{signing_key: env:PHASEROUTE_TEST_AUDIT_KEY}}   # tests inject the trail
tiers: [economy, standard, frontier]
providers:
  cheap: {cheap_provider}
  strong: {strong_provider}
models:
  small:  {{provider: cheap, id: exec-small, tier: economy, price_ref: {cheap_price}}}
  medium: {{provider: strong, id: exec-medium, tier: standard, price_ref: {medium_price}}}
  large:  {{provider: strong, id: plan-large, tier: frontier, price_ref: {top_price}}}
controls:
  analyst: {{description: an analyst reads every case}}
workflows:
  agent:
    phases:
      plan:
        kind: planning
        catastrophic_error: missed_risk
      execute:
        kind: execution
        catastrophic_error: throughput
        caught_by: analyst
        record: true
        escalation:
          validator:
            type: json_schema
            schema:
              type: object
              required: [decision]
              properties: {{decision: {{enum: [clear, escalate]}}}}
          max_steps: 2
"""


def provider(kind: str, upstream: Upstream) -> str:
    if kind == "anthropic":
        return f"{{type: anthropic, api_key: file:key.txt, base_url: '{upstream.base_url}'}}"
    return f"{{type: openai_compat, api_key: file:key.txt, base_url: '{upstream.openai_base_url}'}}"


def agent_policy(directory: Path, upstream: Upstream, cheap: str) -> Path:
    """The agent policy with the cheap tier on `cheap`'s protocol and the others on the other."""
    strong = "openai" if cheap == "anthropic" else "anthropic"
    (directory / "key.txt").write_text("test-key")
    prices = {
        "anthropic": ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"),
        "openai": ("gpt-4o-mini", "gpt-4o", "gpt-4-turbo"),
    }
    cheap_price = prices[cheap][0]
    medium_price, top_price = prices[strong][1], prices[strong][2]
    path = directory / "agent.yaml"
    path.write_text(
        AGENT_POLICY.format(
            cheap_provider=provider(cheap, upstream),
            strong_provider=provider(strong, upstream),
            cheap_price=cheap_price,
            medium_price=medium_price,
            top_price=top_price,
        )
    )
    return path
