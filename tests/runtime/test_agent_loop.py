"""The agent loop: plan on the top tier, execute each step with tools on the cheap tier;
every call routed and accounted; tool errors reach the model; an escalated step keeps its
tool history."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from runtime_policies import write_policy

from phaseroute.errors import ValidationFailed
from phaseroute.policy import load_plan
from phaseroute.providers import CompletionRequest, ToolResultBlock, ToolSpec, ToolUseBlock
from phaseroute.runtime import RetryPolicy, Router, Tool, aplan_and_execute, plan_and_execute
from phaseroute.testing.fake import Answer, FakeClock, FakeProvider, MemoryAuditTrail

APPROVE = json.dumps({"decision": "approve"})


def results_in(request: CompletionRequest) -> list[ToolResultBlock]:
    last = request.messages[-1].content
    return [] if isinstance(last, str) else [b for b in last if isinstance(b, ToolResultBlock)]


def reply_with(final: str) -> Any:
    def reply(request: CompletionRequest) -> Answer:
        if not request.tools:  # the planning call
            return "1. Look the customer up.\n2. Decide."
        if not results_in(request):
            return (
                ToolUseBlock("t1", "lookup", {"id": "C-17"}),
                ToolUseBlock("t2", "broken", {}),
            )
        return final

    return reply


def router(tmp_path: Path, main: FakeProvider) -> Router:
    return Router(
        load_plan(write_policy(tmp_path)),
        {"main": main, "backup": FakeProvider("backup")},
        retry=RetryPolicy(max_attempts=1),
        audit=MemoryAuditTrail(),
        clock=FakeClock(),
        rng=random.Random(2),
    )


def lookup(args: Mapping[str, Any]) -> str:
    return json.dumps({"id": args["id"], "name": "Ada"})


def broken(args: Mapping[str, Any]) -> str:
    raise ConnectionError("registry down")


TOOLS = [
    Tool(ToolSpec("lookup", {"type": "object"}, "find a customer"), lookup),
    Tool(ToolSpec("broken", {"type": "object"}, "always fails"), broken),
]


def test_steps_call_tools_on_the_cheap_tier_and_see_tool_errors(tmp_path: Path) -> None:
    main = FakeProvider("main", reply=reply_with(APPROVE))
    run = plan_and_execute(
        router(tmp_path, main), "wf", "screen case 17",
        planning_phase="review", execution_phase="screen", tools=TOOLS,
    )  # fmt: skip
    assert run.plan.tier == "frontier"
    assert run.steps == ("Look the customer up.", "Decide.")
    assert [len(t) for t in run.turns] == [2, 2]  # tool turn, then the answer
    assert all(c.tier == "economy" for step in run.turns for c in step)
    assert [r.text for r in run.results] == [APPROVE, APPROVE]
    assert len(run.calls) == 5
    assert [(t.call.name, t.is_error) for t in run.tool_runs] == [
        ("lookup", False),
        ("broken", True),
    ] * 2
    assert run.tool_runs[1].output == "ConnectionError: registry down"
    # The model saw both results, the failure flagged as an error.
    sent = results_in(main.requests[2])
    assert [(r.tool_use_id, r.is_error) for r in sent] == [("t1", False), ("t2", True)]
    assert [c.tier for c in run.calls] == ["frontier", *["economy"] * 4]


def test_an_escalated_step_is_rerun_with_its_tool_history(tmp_path: Path) -> None:
    def reply(request: CompletionRequest) -> Answer:
        answer = reply_with("not json")(request)
        if request.model == "claude-sonnet-4-5" and results_in(request):
            return APPROVE
        return answer  # type: ignore[no-any-return]

    main = FakeProvider("main", reply=reply)
    run = plan_and_execute(
        router(tmp_path, main), "wf", "screen", planning_phase="review",
        execution_phase="screen", tools=TOOLS, max_steps=2,
    )  # fmt: skip
    final = run.results[0]
    assert [(e.from_tier, e.to_tier) for e in final.escalations] == [("economy", "standard")]
    escalated = next(r for r in main.requests if r.model == "claude-sonnet-4-5")
    assert [b.tool_use_id for b in results_in(escalated)] == ["t1", "t2"]
    assert escalated.messages[1].content == (
        ToolUseBlock("t1", "lookup", {"id": "C-17"}),
        ToolUseBlock("t2", "broken", {}),
    )


def test_a_step_that_never_stops_calling_tools_is_cut_off(tmp_path: Path) -> None:
    def reply(request: CompletionRequest) -> Answer:
        if not request.tools:
            return "1. Loop."
        return (ToolUseBlock("t", "lookup", {"id": "x"}),)

    with pytest.raises(ValidationFailed, match="max_tool_turns=3"):
        plan_and_execute(
            router(tmp_path, FakeProvider("main", reply=reply)), "wf", "x",
            planning_phase="review", execution_phase="screen", tools=TOOLS, max_tool_turns=3,
        )  # fmt: skip


def test_async_loop_with_an_async_tool(tmp_path: Path) -> None:
    async def alookup(args: Mapping[str, Any]) -> str:
        await asyncio.sleep(0)
        return "found"

    tools = [Tool(ToolSpec("lookup", {"type": "object"}), alookup), TOOLS[1]]
    run = asyncio.run(
        aplan_and_execute(
            router(tmp_path, FakeProvider("main", reply=reply_with(APPROVE))),
            "wf",
            "x",
            planning_phase="review",
            execution_phase="screen",
            tools=tools,
        )
    )
    assert [t.output for t in run.tool_runs][:2] == ["found", "ConnectionError: registry down"]
