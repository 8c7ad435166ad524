"""Tool use through the router and both official SDKs against the local upstream: one and
several tools, parallel calls, a tool error, streaming and not, a phase change in the middle
of a conversation, and the escalation of a failed tool step with its tool history kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_policies import CHEAP, STANDARD, TOP, agent_policy

from phaseroute.errors import RequestError
from phaseroute.providers import (
    Message,
    TextBlock,
    ThinkingDelta,
    ToolCallDelta,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from phaseroute.runtime import RoutedResponse, Router
from phaseroute.testing.fake import MemoryAuditTrail
from phaseroute.testing.upstream import ToolCall, Turn, Upstream, UpstreamRequest

LOOKUP = ToolSpec(
    "lookup_customer",
    {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    "The customer record for an id",
)
SANCTIONS = {  # the OpenAI SDK's shape: both dialects are accepted
    "type": "function",
    "function": {
        "name": "sanctions_check",
        "description": "Screen a name against sanctions lists",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}
VERDICT = json.dumps({"decision": "clear"})


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=3) as up:
        yield up


def two_calls_then_verdict(verdict: str) -> object:
    def reply(request: UpstreamRequest) -> str | Turn:
        if not request.tool_results:
            return Turn(
                "Checking both.",
                (
                    ToolCall("lookup_customer", {"id": "C-17"}),
                    ToolCall("sanctions_check", {"name": "Ada Lovelace"}),
                ),
            )
        return verdict

    return reply


def router_for(tmp_path: Path, upstream: Upstream, cheap: str) -> tuple[Router, MemoryAuditTrail]:
    audit = MemoryAuditTrail()
    router = Router.from_policy(
        agent_policy(tmp_path, upstream, cheap), database=tmp_path / "u.db", audit=audit
    )
    return router, audit


def results_for(calls: tuple[ToolUseBlock, ...]) -> Message:
    """The caller ran the tools: the first worked, the second failed."""
    return Message(
        "user",
        (
            ToolResultBlock(calls[0].id, '{"name": "Ada Lovelace", "risk": "low"}'),
            ToolResultBlock(calls[1].id, "sanctions service timed out", is_error=True),
        ),
    )


@pytest.mark.parametrize("cheap", ["anthropic", "openai"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
def test_parallel_tool_calls_and_a_tool_error_round_trip(
    tmp_path: Path, upstream: Upstream, cheap: str, streamed: bool
) -> None:
    upstream.program(CHEAP, reply=two_calls_then_verdict(VERDICT))
    router, audit = router_for(tmp_path, upstream, cheap)
    conversation: list[Message | dict[str, object]] = [
        {"role": "user", "content": "Screen case 17."}
    ]
    kwargs: dict[str, object] = {"tools": [LOOKUP, SANCTIONS], "tool_choice": "auto"}
    if streamed:
        stream = router.stream("agent", "execute", conversation, **kwargs)  # type: ignore[arg-type]
        deltas = list(stream.events())
        first = stream.result
        calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
        assert {(d.index, d.name) for d in calls if d.name} == {
            (0, "lookup_customer"),
            (1, "sanctions_check"),
        }
        pieces = "".join(d.arguments_json_delta for d in calls if d.index == 0)
        assert json.loads(pieces) == {"id": "C-17"}
        assert not any(isinstance(d, ThinkingDelta) for d in deltas)
    else:
        first = router.complete("agent", "execute", conversation, **kwargs)  # type: ignore[arg-type]
    assert first.model == "small"
    assert first.stop_reason == "tool_use"
    assert first.validation is None  # a tool-call turn is not the step's answer yet
    assert first.text == "Checking both."
    assert [(c.name, dict(c.input)) for c in first.tool_calls] == [
        ("lookup_customer", {"id": "C-17"}),
        ("sanctions_check", {"name": "Ada Lovelace"}),
    ]
    conversation += [first.message(), results_for(first.tool_calls)]
    final = router.complete("agent", "execute", conversation, **kwargs)  # type: ignore[arg-type]
    assert final.text == VERDICT
    assert final.stop_reason == "end_turn"
    assert final.validation is not None
    assert final.validation.ok
    seen = upstream.received(CHEAP)[-1]
    assert seen.api == cheap
    assert seen.tools == ("lookup_customer", "sanctions_check")
    assert [r.tool_use_id for r in seen.tool_results] == [c.id for c in first.tool_calls]
    if cheap == "anthropic":
        assert [r.is_error for r in seen.tool_results] == [False, True]
    else:  # Chat Completions has no error flag: the text says so
        assert seen.tool_results[1].content == "Error: sanctions service timed out"
    # The recorded phase's audit entries carry the tools and the tool history.
    request = audit.entries[-1].request
    assert [t["name"] for t in request["tools"]] == ["lookup_customer", "sanctions_check"]
    assert request["messages"][2]["content"][1]["is_error"] is True
    router.close()


@pytest.mark.parametrize("cheap", ["anthropic", "openai"])
def test_phase_change_mid_conversation_and_escalation_keep_the_tool_history(
    tmp_path: Path, upstream: Upstream, cheap: str
) -> None:
    upstream.program(TOP, reply="1. Look the customer up.\n2. Screen the name.")
    upstream.program(CHEAP, reply=two_calls_then_verdict("looks fine to me"))  # not JSON
    upstream.program(STANDARD, reply=VERDICT)
    router, _audit = router_for(tmp_path, upstream, cheap)
    task = {"role": "user", "content": "Screen case 17 and say clear or escalate."}
    plan = router.complete("agent", "plan", [task])
    assert plan.tier == "frontier"
    conversation = [task, plan.message(), {"role": "user", "content": "Carry out the plan."}]
    step = router.complete("agent", "execute", conversation, tools=[LOOKUP, SANCTIONS])
    assert step.tier == "economy"
    assert len(step.tool_calls) == 2
    conversation += [step.message(), results_for(step.tool_calls)]
    final = router.complete("agent", "execute", conversation, tools=[LOOKUP, SANCTIONS])
    # The cheap tier's final answer failed the validator; the standard tier re-ran the step
    # with the whole conversation, tool calls and results included.
    assert [(e.from_tier, e.to_tier) for e in final.escalations] == [("economy", "standard")]
    assert final.tier == "standard"
    assert final.text == VERDICT
    escalated = upstream.received(STANDARD)[-1]
    assert escalated.api != cheap  # the other protocol: translated, history intact
    assert escalated.tools == ("lookup_customer", "sanctions_check")
    assert [r.tool_use_id for r in escalated.tool_results] == [c.id for c in step.tool_calls]
    assert escalated.messages[0][1].startswith("Screen case 17")
    assert "Look the customer up" in escalated.messages[1][1]
    router.close()


def test_async_tool_round_trip_through_both_protocols(tmp_path: Path, upstream: Upstream) -> None:
    upstream.program(CHEAP, reply=two_calls_then_verdict(VERDICT))

    async def run() -> tuple[RoutedResponse, list[object]]:
        async with Router.from_policy(
            agent_policy(tmp_path, upstream, "openai"),
            database=tmp_path / "a.db",
            audit=MemoryAuditTrail(),
        ) as router:
            messages: list[object] = [{"role": "user", "content": "Screen case 18."}]
            stream = router.astream("agent", "execute", messages, tools=[LOOKUP])  # type: ignore[arg-type]
            deltas = [d async for d in stream.events()]
            first = stream.result
            # OpenAI dialect for the history this time: tool_calls and role "tool".
            messages += [
                {
                    "role": "assistant",
                    "content": first.text,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(dict(c.input))},
                        }
                        for c in first.tool_calls
                    ],
                },
                *(
                    {"role": "tool", "tool_call_id": c.id, "content": "ok"}
                    for c in first.tool_calls
                ),
            ]
            final = await router.acomplete("agent", "execute", messages, tools=[LOOKUP])  # type: ignore[arg-type]
        return final, deltas

    final, deltas = asyncio.run(run())
    assert any(isinstance(d, ToolCallDelta) for d in deltas)
    assert final.text == VERDICT
    assert final.content == (TextBlock(VERDICT),)


def test_what_the_target_protocol_cannot_express_fails_before_any_call(
    tmp_path: Path, upstream: Upstream
) -> None:
    router, _ = router_for(tmp_path, upstream, "openai")
    before = upstream.requests(CHEAP)
    document = {
        "type": "document",
        "source": {"type": "url", "url": "https://example.com/kyc.pdf"},
        "title": "KYC file",
    }
    with pytest.raises(RequestError) as caught:
        router.complete(
            "agent",
            "execute",
            [{"role": "user", "content": [document, {"type": "text", "text": "?"}]}],
        )
    problem = caught.value.problems[0]
    assert problem.path == "messages[0].content[0]"
    assert "OpenAI-compatible" in problem.message
    assert upstream.requests(CHEAP) == before
    router.close()
