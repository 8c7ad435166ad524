"""A small policy with hand-set prices, so every projected figure can be checked by hand.

Prices (USD per million tokens, input/output): cheap 1/2, mid 3/15, top 10/50.

Per call:
  screen  2,000 in / 100 out: top 0.025,  cheap 0.0022
  decide  4,000 in / 500 out: top 0.065,  cheap 0.005
Per day (screen 1,000 calls on cheap, decide 100 calls on top):
  uniform top 25.00 + 6.50 = 31.50; routed 2.20 + 6.50 = 8.70; uniform cheapest 2.20 + 0.50 = 2.70
"""

from __future__ import annotations

HAND_POLICY = """
version: 1
tiers: [cheap, mid, top]
providers:
  local: {type: openai_compat, base_url: "http://127.0.0.1:9/v1"}
models:
  c:
    provider: local
    id: in-house-small
    tier: cheap
    price: {input_per_mtok: "1", output_per_mtok: "2"}
  m:
    provider: local
    id: in-house-medium
    tier: mid
    price: {input_per_mtok: "3", output_per_mtok: "15"}
  t:
    provider: local
    id: in-house-large
    tier: top
    price: {input_per_mtok: "10", output_per_mtok: "50"}
controls:
  human: {description: an analyst reads every result}
workflows:
  wf:
    phases:
      screen:
        kind: screening
        catastrophic_error: throughput
        caught_by: human
        volume: 1000
        tokens: {input: 2000, output: 100}
      decide:
        kind: judgment
        catastrophic_error: missed_risk
        volume: 100
        tokens: {input: 4000, output: 500}
      unprofiled:
        kind: screening
        catastrophic_error: throughput
        caught_by: human
        volume: 50
      idle:
        kind: extraction
        catastrophic_error: throughput
        caught_by: human
        tokens: {input: 10, output: 10}
"""

# The same workflow with nothing routed below the top tier: no volume ratio to vary.
ALL_TOP_POLICY = HAND_POLICY.replace(
    """        caught_by: human
        volume: 1000""",
    """        caught_by: human
        route: {tier: top, justification: "kept strong while measuring"}
        volume: 1000""",
)
