"""Across protocols: an OpenAI client routed to an Anthropic model and the reverse, plain,
streamed and with tools; what cannot be translated is a clear 400, never dropped."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from conftest import Clients
from gateway_support import Served

from phaseroute.testing import Upstream
from phaseroute.testing.upstream import ToolCall, Turn, UpstreamRequest

TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
}
TOOL_ANTHROPIC = {
    "name": "read_file",
    "description": "read a file",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
}


def test_openai_client_on_an_anthropic_phase(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    client = clients.openai(gateway.openai_url)
    raw = client.chat.completions.with_raw_response.create(
        model="coding/execution",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "translate me"},
        ],
        max_tokens=64,
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "claude-haiku-test answers: translate me"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-phaseroute-model"] == "haiku"
    sent = upstream.received("claude-haiku-test")[-1].json_body()
    assert sent["system"] == "be brief"
    assert sent["max_tokens"] == 64


def test_anthropic_client_on_an_openai_phase(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    client = clients.anthropic(gateway.url)
    message = client.messages.create(
        model="support/triage",
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": "the other way"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "gpt-mini-test answers: the other way"
    assert message.stop_reason == "end_turn"
    sent = upstream.received("gpt-mini-test")[-1].json_body()
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}


def test_streams_are_translated_both_ways(gateway: Served, clients: Clients) -> None:
    oai = clients.openai(gateway.openai_url)
    chunks = list(
        oai.chat.completions.create(
            model="coding/execution",
            messages=[{"role": "user", "content": "stream across"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "claude-haiku-test answers: stream across"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None

    ant = clients.anthropic(gateway.url)
    with ant.messages.stream(
        model="support/triage",
        max_tokens=64,
        messages=[{"role": "user", "content": "stream back"}],
    ) as stream:
        assert "".join(stream.text_stream) == "gpt-mini-test answers: stream back"
        final = stream.get_final_message()
    assert final.stop_reason == "end_turn"


def test_a_tool_use_round_trip_is_translated(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    """The second turn of a tool loop (tools, the assistant's call, the tool's result) from
    an OpenAI client reaches an Anthropic model as Anthropic tool blocks."""
    client = clients.openai(gateway.openai_url)
    completion = client.chat.completions.create(
        model="coding/execution",
        tools=[TOOL_OPENAI],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "what is in a.txt?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "hello world"},
        ],
    )
    assert completion.choices[0].message.content
    sent = upstream.received("claude-haiku-test")[-1].json_body()
    assert sent["tools"][0]["name"] == "read_file"
    assert sent["tools"][0]["input_schema"] == TOOL_OPENAI["function"]["parameters"]  # type: ignore[index]
    call = sent["messages"][1]["content"][0]
    assert call == {
        "type": "tool_use",
        "id": "call_1",
        "name": "read_file",
        "input": {"path": "a.txt"},
    }
    result = sent["messages"][2]["content"][0]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == "call_1"


def test_the_same_tool_loop_passes_through_unchanged_to_its_own_protocol(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    messages = [
        {"role": "user", "content": "what is in a.txt?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "hi"}],
        },
    ]
    client = clients.anthropic(gateway.url)
    client.messages.create(
        model="coding/execution",
        max_tokens=64,
        tools=[TOOL_ANTHROPIC],  # type: ignore[list-item]
        messages=messages,  # type: ignore[arg-type]
    )
    sent = upstream.received("claude-haiku-test")[-1].json_body()
    assert sent["messages"] == messages
    assert sent["tools"] == [TOOL_ANTHROPIC]


def test_what_cannot_be_translated_is_a_400_not_dropped(gateway: Served) -> None:
    body = {
        "model": "support/triage",  # an OpenAI model
        "max_tokens": 64,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "think hard"}],
    }
    response = httpx2.post(f"{gateway.url}/v1/messages", content=json.dumps(body))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "thinking" in error["message"]


@pytest.mark.parametrize("field", ["future_field_2031", "logit_bias_v9"])
def test_an_unknown_field_cannot_cross_protocols(gateway: Served, field: str) -> None:
    body = {
        "model": "support/triage",
        "max_tokens": 64,
        field: {"x": 1},
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = httpx2.post(f"{gateway.url}/v1/messages", content=json.dumps(body))
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


def _tool_loop(request: UpstreamRequest) -> str | Turn:
    """Call read_file first; answer from its result once it came back."""
    if request.tool_results:
        return f"the file says {request.tool_results[-1].content}"
    return Turn(tool_calls=(ToolCall("read_file", {"path": "a.txt"}),))


@pytest.mark.parametrize("stream", [False, True])
def test_a_full_tool_round_trip_from_an_openai_client_on_a_claude_phase(
    gateway: Served, upstream: Upstream, clients: Clients, stream: bool
) -> None:
    upstream.program("claude-haiku-test", reply=_tool_loop)
    try:
        client = clients.openai(gateway.openai_url)
        messages: list[dict[str, Any]] = [{"role": "user", "content": "what is in a.txt?"}]
        if stream:
            chunks = list(
                client.chat.completions.create(
                    model="coding/execution",
                    tools=[TOOL_OPENAI],  # type: ignore[list-item]
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                )
            )
            calls = [
                call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])
            ]
            call_id = next(c.id for c in calls if c.id)
            name = next(c.function.name for c in calls if c.function and c.function.name)
            arguments = "".join(c.function.arguments or "" for c in calls if c.function)
            finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        else:
            first = client.chat.completions.create(
                model="coding/execution",
                tools=[TOOL_OPENAI],  # type: ignore[list-item]
                messages=messages,  # type: ignore[arg-type]
            )
            (tool_call,) = first.choices[0].message.tool_calls or []
            call_id, name = tool_call.id, tool_call.function.name  # type: ignore[union-attr]
            arguments = tool_call.function.arguments  # type: ignore[union-attr]
            finish = first.choices[0].finish_reason
        assert finish == "tool_calls"
        assert name == "read_file"
        assert json.loads(arguments) == {"path": "a.txt"}
        messages += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "hello world"},
        ]
        second = client.chat.completions.create(
            model="coding/execution",
            tools=[TOOL_OPENAI],  # type: ignore[list-item]
            messages=messages,  # type: ignore[arg-type]
        )
        assert second.choices[0].message.content == "the file says hello world"
    finally:
        upstream.program("claude-haiku-test")


def test_a_tool_call_streams_back_unchanged_to_its_own_protocol(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    upstream.program("claude-haiku-test", reply=_tool_loop)
    try:
        with clients.anthropic(gateway.url).messages.stream(
            model="coding/execution",
            max_tokens=64,
            tools=[TOOL_ANTHROPIC],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "what is in a.txt?"}],
        ) as stream:
            final = stream.get_final_message()
        assert final.stop_reason == "tool_use"
        (block,) = [b for b in final.content if b.type == "tool_use"]
        assert block.name == "read_file"
        assert block.input == {"path": "a.txt"}
    finally:
        upstream.program("claude-haiku-test")
