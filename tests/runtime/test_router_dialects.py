"""Both SDK dialects at the Python API (issue 9, item 17): one internal request either way."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from runtime_policies import write_policy

from phaseroute.errors import RequestError
from phaseroute.policy import load_plan
from phaseroute.providers import (
    Base64Source,
    CacheControl,
    CompletionRequest,
    ImageBlock,
    Message,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from phaseroute.runtime import RetryPolicy, Router
from phaseroute.testing.fake import FakeClock, FakeProvider, MemoryAuditTrail

TOOL_SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


def sent(messages: Any, **kwargs: Any) -> CompletionRequest:
    """The request the provider received for a call of the `review` phase."""
    main = FakeProvider("main")
    router = Router(
        load_plan(write_policy(Path(kwargs.pop("tmp")))),
        {"main": main, "backup": FakeProvider("backup")},
        retry=RetryPolicy(max_attempts=1),
        audit=MemoryAuditTrail(),
        clock=FakeClock(),
        rng=random.Random(1),
    )
    router.complete("wf", "review", messages, **kwargs)
    return main.requests[-1]


def test_openai_habits_a_leading_system_message_and_stop(tmp_path: Path) -> None:
    request = sent(
        [
            {"role": "system", "content": "You review AML alerts."},
            {"role": "user", "content": "Is this suspicious?"},
        ],
        stop="END",
        tmp=tmp_path,
    )
    assert request.system == "You review AML alerts."
    assert request.messages == (Message("user", "Is this suspicious?"),)
    assert request.stop == ("END",)


def test_anthropic_habits_content_blocks_system_blocks_and_stop_sequences(
    tmp_path: Path,
) -> None:
    request = sent(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:", "cache_control": {"type": "ephemeral"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                ],
            }
        ],
        system=[
            {"type": "text", "text": "Long shared rules", "cache_control": {"type": "ephemeral"}}
        ],
        stop_sequences=["</answer>"],
        tmp=tmp_path,
    )
    assert request.system == (TextBlock("Long shared rules", CacheControl()),)
    assert request.messages[0].content == (
        TextBlock("Look:", CacheControl()),
        ImageBlock(Base64Source("image/png", "iVBO")),
    )
    assert request.stop == ("</answer>",)


def test_both_dialects_give_the_same_internal_request(tmp_path: Path) -> None:
    anthropic_style = sent(
        [
            {"role": "user", "content": "find Ada"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "search", "input": {"q": "Ada"}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "found"}],
            },
        ],
        system="s",
        tools=[{"name": "search", "description": "d", "input_schema": TOOL_SCHEMA}],
        tool_choice={"type": "tool", "name": "search"},
        tmp=tmp_path / "a",
    )
    openai_style = sent(
        [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "find Ada"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "search", "arguments": '{"q":"Ada"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "found"},
        ],
        tools=[
            {
                "type": "function",
                "function": {"name": "search", "description": "d", "parameters": TOOL_SCHEMA},
            }
        ],
        tool_choice={"type": "function", "function": {"name": "search"}},
        tmp=tmp_path / "o",
    )
    assert anthropic_style == openai_style
    assert anthropic_style.messages[1].content == (ToolUseBlock("t1", "search", {"q": "Ada"}),)
    assert anthropic_style.messages[2].content == (ToolResultBlock("t1", "found"),)
    assert anthropic_style.tools == (ToolSpec("search", TOOL_SCHEMA, "d"),)
    assert anthropic_style.tool_choice == ToolChoice("tool", "search")


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "o").mkdir()


@pytest.mark.parametrize(
    ("messages", "kwargs", "needle"),
    [
        (
            [{"role": "user", "content": "x"}],
            {"stop": ["a"], "stop_sequences": ["b"]},
            "both given",
        ),
        (
            [{"role": "system", "content": "a"}, {"role": "user", "content": "x"}],
            {"system": "b"},
            "given both as system=",
        ),
        (
            [{"role": "user", "content": "x"}, {"role": "system", "content": "late"}],
            {},
            "messages[1].role",
        ),
        ([{"role": "user", "content": [{"type": "video"}]}], {}, "messages[0].content[0].type"),
        ([{"role": "user", "content": "x"}], {"tool_choice": "sometimes"}, "tool_choice"),
        ([{"role": "user", "content": "x"}], {"tools": [{"name": "t"}]}, "tools[0].input_schema"),
    ],
)
def test_bad_dialect_input_names_the_field(
    tmp_path: Path, messages: Any, kwargs: dict[str, Any], needle: str
) -> None:
    with pytest.raises(RequestError) as caught:
        sent(messages, tmp=tmp_path, **kwargs)
    assert needle in str(caught.value)
