"""The Anthropic wire module: strict reading, writing, round trips, stop reasons and usage."""

from __future__ import annotations

from typing import Any

import pytest

from phaseroute.errors import RequestError
from phaseroute.providers import (
    Base64Source,
    CacheControl,
    CompletionResponse,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
    Usage,
)
from phaseroute.wire import anthropic as wire

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 256,
        "system": [
            {"type": "text", "text": "You screen alerts.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look at this"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {
                        "type": "document",
                        "source": {"type": "url", "url": "https://example.com/a.pdf"},
                        "title": "KYC file",
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "tu_1",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "tu_1", "content": "sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "tu_2",
                        "content": "boom",
                        "is_error": True,
                    },
                ],
            },
        ],
        "tools": [{**WEATHER, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.2,
        "top_k": 5,
        "metadata": {"user_id": "analyst-7"},
        "stream": True,
    }
    base.update(changes)
    return base


def test_reads_every_block_kind_tools_and_parameters() -> None:
    request = wire.request_from_wire(body())
    assert request.model == "claude-x"
    assert request.system == (TextBlock("You screen alerts.", CacheControl()),)
    user, assistant, results = request.messages
    assert user.content[1] == ImageBlock(Base64Source("image/png", "iVBO"))
    assert user.content[2] == DocumentBlock(UrlSource("https://example.com/a.pdf"), "KYC file")
    assert assistant.content[0] == ThinkingBlock("hmm", "sig")
    assert assistant.content[2] == ToolUseBlock("tu_1", "get_weather", {"city": "Oslo"})
    assert results.content[1] == ToolResultBlock("tu_2", "boom", is_error=True)
    assert request.tools[0].cache_control == CacheControl(ttl="1h")
    assert request.tool_choice == ToolChoice("auto", None, parallel=False)
    assert request.stop == ("END",)
    assert request.top_k == 5
    assert request.end_user == "analyst-7"


def test_request_round_trips_through_the_wire() -> None:
    original = body()
    written = wire.request_to_wire(wire.request_from_wire(original))
    del original["stream"]  # the transport's business, not the request's
    assert written == original


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"seed": 1}, "seed"),
        ({"tools": [{"type": "web_search_20250305", "name": "web"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": 1.5}, "temperature"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}],
                    }
                ]
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "x", "cache_control": {"type": "forever"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].cache_control.type",
        ),
        ({"messages": [{"role": "user", "content": "x", "name": "bob"}]}, "messages[0].name"),
    ],
)
def test_bad_fields_are_named_by_json_path(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(RequestError) as caught:
        wire.request_from_wire(body(**changes))
    problem = caught.value.problems[0]
    assert problem.path == path
    assert problem.message


def test_lenient_reading_ignores_unknown_top_level_parameters_only() -> None:
    assert wire.request_from_wire(body(seed=1), strict=False).model == "claude-x"
    bad = body(messages=[{"role": "user", "content": [{"type": "video"}]}], seed=1)
    with pytest.raises(RequestError, match=r"messages\[0\]\.content\[0\]\.type"):
        wire.request_from_wire(bad, strict=False)


def message(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x-2025",
        "content": [
            {"type": "thinking", "thinking": "plan", "signature": "s1"},
            {"type": "text", "text": "Let me check.", "citations": None},
            {"type": "tool_use", "id": "tu_9", "name": "get_weather", "input": {"city": "Rome"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "cache_creation_input_tokens": 300,
            "cache_read_input_tokens": 4000,
        },
    }
    data.update(changes)
    return data


def test_response_keeps_blocks_usage_and_both_stop_reasons() -> None:
    response = wire.response_from_wire(message(), model_requested="claude-x", request_id="req_1")
    assert response.text == "Let me check."
    assert response.tool_calls == (ToolUseBlock("tu_9", "get_weather", {"city": "Rome"}),)
    assert response.content[0] == ThinkingBlock("plan", "s1")
    assert response.stop_reason == "tool_use"
    assert response.stop_reason_raw == "tool_use"
    assert response.usage == Usage(10, 20, cache_read_tokens=4000, cache_write_tokens=300)
    assert (response.model_requested, response.model_reported) == ("claude-x", "claude-x-2025")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("end_turn", "end_turn"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
        ("tool_use", "tool_use"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
        ("model_context_window_exceeded", "other"),
    ],
)
def test_stop_reasons_are_normalised(raw: str, normal: str) -> None:
    assert wire.response_from_wire(message(stop_reason=raw)).stop_reason == normal


def test_response_round_trips_through_the_wire() -> None:
    response = wire.response_from_wire(message())
    written = wire.response_to_wire(response, message_id="msg_1")
    expected = message()
    expected["content"][1].pop("citations")
    assert written == expected


def test_text_only_response_gets_one_text_block() -> None:
    response = CompletionResponse("hi", "m", "m", "p", Usage())
    assert response.content == (TextBlock("hi"),)
    assert wire.response_to_wire(response)["content"] == [{"type": "text", "text": "hi"}]
