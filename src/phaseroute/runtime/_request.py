"""Turning a caller's arguments into a `CompletionRequest`, with clear errors for bad input.

Both SDK dialects are accepted and become the one internal request: Anthropic messages
with content blocks (text, image, document, tool_use, tool_result, thinking) and OpenAI
messages (a leading ``system`` message, ``image_url`` parts, assistant ``tool_calls``,
``role: tool`` results); tools as `ToolSpec`, Anthropic or OpenAI tool dicts; the stop
parameter as ``stop`` (OpenAI) or ``stop_sequences`` (Anthropic). Reading is delegated to
`phaseroute.wire`, so errors name the JSON path (``messages[2].content[0].type``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from phaseroute.errors import RequestError
from phaseroute.providers._base import (
    CompletionRequest,
    Message,
    TextBlock,
    ThinkingConfig,
    ToolChoice,
    ToolSpec,
)
from phaseroute.wire import _read as r
from phaseroute.wire import anthropic as anthropic_wire
from phaseroute.wire import openai as openai_wire

MessageLike = Message | Mapping[str, Any]
ToolLike = ToolSpec | Mapping[str, Any]
ToolChoiceLike = ToolChoice | str | Mapping[str, Any]
SystemLike = str | Iterable[TextBlock | Mapping[str, Any]]


def _tool(value: object, path: str) -> ToolSpec:
    if isinstance(value, ToolSpec):
        return value
    data = r.obj(value, path)
    if data.get("type") == "function":
        return openai_wire.tool_from_wire(data, path)
    return r.anthropic_tool(data, path)


def _tool_choice(value: object, parallel: bool | None) -> ToolChoice | None:
    path = "tool_choice"
    if value is None:
        return None if parallel in (None, True) else ToolChoice("auto", None, False)
    if isinstance(value, ToolChoice):
        choice = value
    elif isinstance(value, str):
        if value == "any":
            choice = ToolChoice("any")
        else:
            choice = openai_wire.tool_choice_from_wire(value, True, path)
    elif r.obj(value, path).get("type") == "function":
        choice = openai_wire.tool_choice_from_wire(value, True, path)
    else:
        choice = r.anthropic_tool_choice(value, path)
    if parallel is not None:
        choice = ToolChoice(choice.type, choice.name, parallel)
    return choice


def _system(value: object) -> str | tuple[TextBlock, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        r.fail("system", "expected a str or a list of text blocks, got a mapping")
    if not isinstance(value, Iterable):
        r.fail("system", f"expected a str or a list of text blocks, got {type(value).__name__}")
    blocks: list[TextBlock] = []
    for i, b in enumerate(value):
        if isinstance(b, TextBlock):
            blocks.append(b)
            continue
        where = f"system[{i}]"
        data = r.obj(b, where)
        if data.get("type") != "text":
            r.fail(f"{where}.type", "a system block must be text", "use type 'text'")
        blocks.append(r.text_block(data, where))
    return tuple(blocks)


def _merge_system(
    given: str | tuple[TextBlock, ...] | None, leading: str | tuple[TextBlock, ...] | None
) -> str | tuple[TextBlock, ...] | None:
    if leading is None:
        return given
    if given is not None:
        raise RequestError(
            "system: given both as system=... and as a system message in messages — pass it one way"
        )
    return leading


def _plain_text(items: list[Any]) -> tuple[Message, ...] | None:
    """The common case without the dialect reader: text turns of user and assistant."""
    out = []
    for item in items:
        if isinstance(item, Message):
            if item.role not in ("user", "assistant"):
                return None
            out.append(item)
        elif (
            type(item) is dict
            and len(item) == 2
            and item.get("role") in ("user", "assistant")
            and type(item.get("content")) is str
        ):
            out.append(Message(item["role"], item["content"]))
        else:
            return None
    return tuple(out)


def build_request(
    messages: Iterable[MessageLike] | str,
    *,
    system: SystemLike | None,
    max_tokens: int,
    temperature: float | None,
    stop: Iterable[str] | str | None,
    metadata: Mapping[str, str] | None,
    stop_sequences: Iterable[str] | None = None,
    tools: Iterable[ToolLike] | None = None,
    tool_choice: ToolChoiceLike | None = None,
    parallel_tool_calls: bool | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    thinking: ThinkingConfig | Mapping[str, Any] | None = None,
) -> CompletionRequest:
    """Validate the call's arguments; the model id is filled in per attempt."""
    if isinstance(messages, str):
        raise RequestError(
            "messages: expected a list of messages, got a str — wrap it: "
            '[{"role": "user", "content": ...}]'
        )
    items = list(messages)
    if not items:
        raise RequestError("messages: at least one message is needed")
    plain = _plain_text(items)
    if plain is not None:
        leading, coerced = None, plain
    else:
        leading, coerced = openai_wire.messages_from_wire(items, mixed=True)
    if not coerced:
        raise RequestError("messages: only system messages were given — add a user message")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError(f"max_tokens: must be a positive integer, got {max_tokens!r}")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 2
    ):
        raise RequestError(f"temperature: must be between 0 and 2, got {temperature!r}")
    stop_given = stop is not None and (isinstance(stop, str) or bool(list(stop)))
    if stop_given and stop_sequences is not None:
        raise RequestError(
            "stop and stop_sequences: both given — they are the same parameter in the two "
            "SDKs' spellings; pass one"
        )
    raw_stop = stop_sequences if stop_sequences is not None else stop
    stops = (raw_stop,) if isinstance(raw_stop, str) else tuple(raw_stop or ())
    if not all(isinstance(s, str) and s for s in stops):
        what = "stop_sequences" if stop_sequences is not None else "stop"
        raise RequestError(f"{what}: must be non-empty strings")
    if system is not None and not isinstance(system, str | list | tuple):
        raise RequestError(f"system: expected a str, got {type(system).__name__}")
    if thinking is not None and not isinstance(thinking, ThinkingConfig):
        thinking = anthropic_wire.thinking_from_wire(thinking)
    return CompletionRequest(
        model="",
        messages=coerced,
        system=_merge_system(_system(system), leading),
        max_tokens=max_tokens,
        temperature=temperature,
        stop=stops,
        metadata=dict(metadata or {}),
        tools=tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(tools or ())),
        tool_choice=_tool_choice(tool_choice, parallel_tool_calls),
        top_p=None if top_p is None else r.number(top_p, "top_p", 0, 1),
        top_k=None if top_k is None else r.integer(top_k, "top_k", minimum=1),
        thinking=thinking,
    )
