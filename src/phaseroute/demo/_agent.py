"""The agent demo: an AML screening agent whose plan is written on the top tier and whose
execution steps call tools on the cheap tier — offline, through the official Anthropic SDK
against phaseroute's local upstream (scripted model answers, real wire protocol).

Each model call is an ordinary routed call (routed, priced, recorded in the usage ledger);
the tools are plain Python functions; one sanctions lookup fails on purpose, and the model
sees the error and calls the tool again.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from phaseroute.providers import ToolSpec
from phaseroute.runtime import PlanExecution, Router, Tool, plan_and_execute
from phaseroute.testing.upstream import ToolCall, Turn, Upstream, UpstreamRequest

POLICY = """\
# Written by `phaseroute demo-agent`: an agent workflow on the AML example's catalogue.
version: 1
tiers: [economy, standard, frontier]
providers:
  anthropic: {{type: anthropic, api_key: file:demo-key.txt, base_url: "{base_url}"}}
models:
  haiku:  {{provider: anthropic, id: claude-haiku-5-5,  tier: economy}}
  sonnet: {{provider: anthropic, id: claude-sonnet-5-5, tier: standard}}
  opus:   {{provider: anthropic, id: claude-opus-5-5,   tier: frontier}}
controls:
  analyst_review: {{description: every alert that is not closed is read by an analyst}}
workflows:
  aml_agent:
    phases:
      plan:
        kind: planning
        catastrophic_error: missed_risk
        description: Decide how to screen the alert.
      execute:
        kind: execution
        catastrophic_error: throughput
        caught_by: analyst_review
        description: Carry out one step, calling tools.
"""
PLAN = (
    "1. Look up the customer and the counterparty.\n"
    "2. Screen both names against the sanctions lists.\n"
    '3. Decide: answer {"decision": "investigate" | "close", "confidence": 0..1}.'
)
CUSTOMERS = {
    "C-17": {"name": "Ada Lovelace", "risk": "low", "country": "GB"},
    "C-99": {"name": "Charles Babbage", "risk": "medium", "country": "GB"},
}
ALERTS = (
    ("alert 4711: C-17 sent 9,800 GBP to C-99 three times this week", "C-17", "C-99"),
    ("alert 4712: C-99 received 12 cash deposits just under 10,000 GBP", "C-99", "C-17"),
)
_STEP = re.compile(r"Carry out step (\d+) of")
_CUSTOMER = re.compile(r"\bC-\d+\b")


def _execute(request: UpstreamRequest) -> str | Turn:
    """The cheap model's scripted behaviour for one step (it reads what the agent sent)."""
    prompt = request.messages[0][1]
    found = _STEP.search(prompt)
    step = int(found.group(1)) if found else 3
    ids = list(dict.fromkeys(_CUSTOMER.findall(prompt.split("Plan:")[0])))
    results = request.tool_results
    if step == 1:
        if not results:
            return Turn(
                "Looking both parties up.",
                tuple(ToolCall("lookup_customer", {"id": i}) for i in ids),
            )
        return "Parties: " + "; ".join(r.content for r in results)
    if step == 2:
        names = [CUSTOMERS[i]["name"] for i in ids if i in CUSTOMERS]
        failed = [r for r in results if r.is_error or r.content.startswith("Error")]
        if not results:
            return Turn(
                "Screening both names.",
                tuple(ToolCall("sanctions_check", {"name": n}) for n in names),
            )
        if failed and len(results) == len(names):  # the lookup failed once: try it again
            return Turn(
                "The sanctions service failed; trying again.",
                (ToolCall("sanctions_check", {"name": names[-1]}),),
            )
        return "No sanctions hits for " + ", ".join(names) + "."
    decision = "investigate" if "just under" in prompt else "close"
    return json.dumps({"decision": decision, "confidence": 0.86})


@dataclass(frozen=True, slots=True)
class AgentDemoResult:
    """What the agent demo did: one plan/execute run per alert."""

    policy: Path
    runs: tuple[tuple[str, PlanExecution], ...]

    @property
    def cost(self) -> Decimal | None:
        costs = [r.total_cost for _, r in self.runs]
        return None if any(c is None for c in costs) else sum((c for c in costs if c), Decimal(0))

    @property
    def top_tier_cost(self) -> Decimal | None:
        """What every call would have cost on the top tier (the router's counterfactual)."""
        values = [c.counterfactual_cost for _, r in self.runs for c in r.calls]
        return None if any(v is None for v in values) else sum((v for v in values if v), Decimal(0))


class _Tools:
    """The agent's tools: plain functions over a small customer table. The first sanctions
    lookup fails, to show a tool error reaching the model."""

    def __init__(self) -> None:
        self._failed_once = False
        self._lock = threading.Lock()

    def lookup_customer(self, args: Mapping[str, Any]) -> str:
        customer = CUSTOMERS.get(str(args.get("id")))
        if customer is None:
            raise KeyError(f"no customer {args.get('id')!r}")
        return json.dumps({"id": args["id"], **customer})

    def sanctions_check(self, args: Mapping[str, Any]) -> str:
        with self._lock:
            if not self._failed_once:
                self._failed_once = True
                raise TimeoutError("sanctions service timed out")
        return json.dumps({"name": args.get("name"), "hits": 0})

    def all(self) -> list[Tool]:
        return [
            Tool(
                ToolSpec(
                    "lookup_customer",
                    {
                        "type": "object",
                        "properties": {"id": {"type": "string"}},
                        "required": ["id"],
                    },
                    "The customer record for a customer id",
                ),
                self.lookup_customer,
            ),
            Tool(
                ToolSpec(
                    "sanctions_check",
                    {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                    "Screen a name against the sanctions lists",
                ),
                self.sanctions_check,
            ),
        ]


def run_agent_demo(workdir: Path) -> AgentDemoResult:
    """Run the agent on the demo alerts against a local upstream; returns every call."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "demo-key.txt").write_text("demo-key-not-a-secret\n")
    with Upstream(seed=7) as upstream:
        upstream.program("claude-opus-5-5", reply=PLAN, served_as="claude-opus-5-5-20260101")
        upstream.program("claude-haiku-5-5", reply=_execute, served_as="claude-haiku-5-5-20260101")
        policy = workdir / "agent.yaml"
        policy.write_text(POLICY.format(base_url=upstream.base_url))
        tools = _Tools().all()
        runs: list[tuple[str, PlanExecution]] = []
        with Router.from_policy(policy, database=workdir / "agent.db") as router:
            for text, _, _ in ALERTS:
                run = plan_and_execute(
                    router, "aml_agent", text, planning_phase="plan", execution_phase="execute",
                    tools=tools, case_id=text.split(":")[0],
                )  # fmt: skip
                runs.append((text, run))
    return AgentDemoResult(policy, tuple(runs))
