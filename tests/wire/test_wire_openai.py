"""The OpenAI wire module: dialect mapping, what it cannot express, stop reasons and usage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from phaseroute.errors import RequestError
from phaseroute.providers import (
    Base64Source,
    CompletionRequest,
    DocumentBlock,
    ImageBlock,
    Message,
    TextBlock,
    ThinkingBlock,
    ThinkingConfig,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
    Usage,
)
from phaseroute.wire import anthropic as anthropic_wire
from phaseroute.wire import openai as wire

TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Find a customer",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
    },
}


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "You screen alerts."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Who is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"id": "7"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"id": "8"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "Ada"},
            {"role": "tool", "tool_call_id": "c2", "content": "not found"},
            {"role": "user", "content": "Summarise."},
        ],
        "max_completion_tokens": 300,
        "tools": [TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "stop": "END",
        "user": "analyst-7",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    base.update(changes)
    return base


def test_reads_the_openai_dialect_into_one_internal_request() -> None:
    request = wire.request_from_wire(body())
    assert request.system == "You screen alerts."
    user, assistant, results = request.messages
    assert user.content[1] == ImageBlock(Base64Source("image/png", "iVBO"))
    assert assistant == Message(
        "assistant",
        (ToolUseBlock("c1", "lookup", {"id": "7"}), ToolUseBlock("c2", "lookup", {"id": "8"})),
    )
    # Tool results and the following user text are one user turn (as Anthropic requires).
    assert results == Message(
        "user",
        (ToolResultBlock("c1", "Ada"), ToolResultBlock("c2", "not found"), TextBlock("Summarise.")),
    )
    assert request.max_tokens == 300
    assert request.tool_choice == ToolChoice("any", None, parallel=False)
    assert request.stop == ("END",)
    assert request.end_user == "analyst-7"


def test_openai_request_translates_to_anthropic_and_back() -> None:
    request = wire.request_from_wire(body())
    anthropic_body = anthropic_wire.request_to_wire(request)
    assert anthropic_body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert anthropic_body["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "c1",
        "content": "Ada",
    }
    again = wire.request_to_wire(anthropic_wire.request_from_wire(anthropic_body))
    original = body()
    for key in ("stream", "stream_options", "max_completion_tokens"):
        original.pop(key)
    original["max_tokens"] = 300
    original["stop"] = ["END"]
    original["messages"][1]["content"][1]["image_url"] = {"url": "data:image/png;base64,iVBO"}
    assert again == original


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"seed": 3}, "seed"),
        ({"n": 2}, "n"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        (
            {"tools": [{"type": "function", "function": {"name": "x", "strict": True}}]},
            "tools[0].function.strict",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "late"}]},
            "messages[1].role",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{nope"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        ({"messages": [{"role": "system", "content": "only"}]}, "messages"),
        ({"temperature": 2.5}, "temperature"),
    ],
)
def test_bad_fields_are_named_by_json_path(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(RequestError) as caught:
        wire.request_from_wire(body(**changes))
    assert caught.value.problems[0].path == path


def request(*messages: Message, **changes: Any) -> CompletionRequest:
    return CompletionRequest(model="gpt-x", messages=messages, **changes)


@pytest.mark.parametrize(
    ("req", "path"),
    [
        (
            request(Message("user", (DocumentBlock(UrlSource("https://x/a.pdf")),))),
            "messages[0].content[0]",
        ),
        (
            request(
                Message("user", "q"),
                Message("assistant", (ThinkingBlock("t", "s"), ToolUseBlock("a", "f", {}))),
            ),
            "messages[1].content[0]",
        ),
        (
            request(
                Message(
                    "user",
                    (ToolResultBlock("a", (ImageBlock(UrlSource("https://x/i.png")),)),),
                )
            ),
            "messages[0].content[0].content[0]",
        ),
        (request(Message("user", "q"), top_k=3), "top_k"),
        (request(Message("user", "q"), thinking=ThinkingConfig(1000)), "thinking"),
    ],
)
def test_what_chat_completions_cannot_express_is_an_error_before_any_call(
    req: CompletionRequest, path: str
) -> None:
    with pytest.raises(RequestError) as caught:
        wire.request_to_wire(req)
    problem = caught.value.problems[0]
    assert problem.path == path
    assert "OpenAI-compatible" in problem.message
    assert problem.fix


def test_a_tool_error_is_sent_as_marked_text() -> None:
    written = wire.request_to_wire(
        request(Message("user", (ToolResultBlock("c1", "timeout", is_error=True),)))
    )
    assert written["messages"] == [
        {"role": "tool", "tool_call_id": "c1", "content": "Error: timeout"}
    ]


def completion(**message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-x-2025",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": None, **message},
                "logprobs": None,
                "finish_reason": message.pop("finish_reason", "tool_calls"),
            }
        ],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 50,
            "total_tokens": 1050,
            "prompt_tokens_details": {"cached_tokens": 800},
        },
    }


def test_response_with_parallel_tool_calls_and_cached_usage() -> None:
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"id": "1"}'},
        },
        {"id": "c2", "type": "function", "function": {"name": "lookup", "arguments": "not json"}},
    ]
    response = wire.response_from_wire(completion(tool_calls=calls), model_requested="gpt-x")
    assert response.tool_calls == (
        ToolUseBlock("c1", "lookup", {"id": "1"}),
        ToolUseBlock("c2", "lookup", {wire.UNPARSED_ARGUMENTS: "not json"}),
    )
    assert response.stop_reason == "tool_use"
    assert response.stop_reason_raw == "tool_calls"
    # OpenAI's prompt tokens include cached ones; phaseroute's input tokens do not.
    assert response.usage == Usage(200, 50, cache_read_tokens=800)
    written = wire.response_to_wire(response, completion_id="chatcmpl-1", created=1)
    assert written["usage"]["prompt_tokens"] == 1000
    assert written["choices"][0]["finish_reason"] == "tool_calls"
    assert json.loads(
        written["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    ) == {"id": "1"}


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("weird", "other"),
    ],
)
def test_finish_reasons_are_normalised(raw: str, normal: str) -> None:
    data = completion(content="x", finish_reason=raw)
    assert wire.response_from_wire(data).stop_reason == normal


def test_a_refusal_is_text_with_stop_reason_refusal() -> None:
    response = wire.response_from_wire(completion(refusal="I can't help", finish_reason="stop"))
    assert (response.text, response.stop_reason) == ("I can't help", "refusal")
