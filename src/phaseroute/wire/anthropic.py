"""The Anthropic Messages API <-> phaseroute's internal request and response.

`request_from_wire` reads a Messages request body strictly (an unknown or untranslatable
field is a `RequestError` naming its JSON path); `request_to_wire` writes the body an
Anthropic provider sends; `response_from_wire` reads a `Message` (the SDK's
``model_dump()``); `response_to_wire` writes one. Stop reasons and usage map here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from phaseroute.providers._base import (
    Base64Source,
    CacheControl,
    CompletionRequest,
    CompletionResponse,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    Message,
    PlainTextSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingConfig,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    UrlSource,
    Usage,
)
from phaseroute.wire import _read as r

PROTOCOL = "anthropic"

_FIELDS = (
    "model",
    "max_tokens",
    "messages",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "stream",
)
_USER_BLOCKS = ("text", "image", "document", "tool_result")
_ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")

# Anthropic's stop_reason -> the normalised one (anything else is "other").
_STOP_IN = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
}
_STOP_OUT = {**{v: k for k, v in _STOP_IN.items()}, "other": "end_turn"}


def block_from_wire(value: object, path: str, allowed: tuple[str, ...]) -> ContentBlock:
    """One Anthropic content block of a type in `allowed`."""
    data = r.obj(value, path)
    kind = data.get("type")
    if kind not in allowed:
        r.fail(
            r.join(path, "type"),
            f"{kind!r} is not a content block phaseroute translates here",
            f"use one of {', '.join(allowed)}",
        )
    if kind == "text":
        return r.text_block(data, path)
    if kind == "image":
        return r.image_block(data, path)
    if kind == "document":
        return r.document_block(data, path)
    if kind == "tool_result":
        return r.tool_result_block(data, path)
    if kind == "tool_use":
        return r.tool_use_block(data, path)
    if kind == "thinking":
        return r.thinking_block(data, path)
    return r.redacted_thinking_block(data, path)


def message_from_wire(value: object, path: str) -> Message:
    """One Anthropic message: role user|assistant, content a string or blocks."""
    data = r.obj(value, path)
    r.only(data, path, ("role", "content"), "a message")
    role = r.need(data, "role", path)
    if role not in ("user", "assistant"):
        fix = "put it in the top-level 'system' field" if role == "system" else None
        r.fail(
            r.join(path, "role"), f"{role!r} is not a message role", fix or "use user or assistant"
        )
    content = r.need(data, "content", path)
    if isinstance(content, str):
        return Message(role, content)
    allowed = _USER_BLOCKS if role == "user" else _ASSISTANT_BLOCKS
    where = r.join(path, "content")
    items = r.array(content, where)
    return Message(
        role, tuple(block_from_wire(b, r.join(where, i), allowed) for i, b in enumerate(items))
    )


def system_from_wire(value: object, path: str = "system") -> str | tuple[TextBlock, ...] | None:
    if value is None or isinstance(value, str):
        return value
    items = r.array(value, path)
    blocks = []
    for i, item in enumerate(items):
        where = r.join(path, i)
        data = r.obj(item, where)
        if data.get("type") != "text":
            r.fail(r.join(where, "type"), "a system block must be text", "use type 'text'")
        blocks.append(r.text_block(data, where))
    return tuple(blocks)


def thinking_from_wire(value: object, path: str = "thinking") -> ThinkingConfig | None:
    data = r.obj(value, path)
    kind = data.get("type")
    if kind == "disabled":
        r.only(data, path, ("type",), "thinking")
        return None
    if kind != "enabled":
        r.fail(r.join(path, "type"), f"{kind!r} is not translated", "use 'enabled' or 'disabled'")
    r.only(data, path, ("type", "budget_tokens"), "thinking")
    where = r.join(path, "budget_tokens")
    return ThinkingConfig(r.integer(r.need(data, "budget_tokens", path), where, minimum=1))


def request_from_wire(body: Mapping[str, Any], *, strict: bool = True) -> CompletionRequest:
    """A Messages request body as the internal request (`model` as the client sent it).

    With `strict=False`, unknown top-level parameters are ignored instead of rejected (for
    a passthrough that sends the client's own body); messages and blocks stay strict.
    """
    data = r.obj(body, "")
    if strict:
        r.only(data, "", _FIELDS, "an Anthropic Messages request")
    messages = r.array(r.need(data, "messages", ""), "messages")
    if not messages:
        r.fail("messages", "at least one message is needed")
    metadata = data.get("metadata")
    end_user = None
    if metadata is not None:
        meta = r.obj(metadata, "metadata")
        r.only(meta, "metadata", ("user_id",), "metadata")
        if meta.get("user_id") is not None:
            end_user = r.string(meta["user_id"], "metadata.user_id")
    tools = data.get("tools") or []
    choice = data.get("tool_choice")
    thinking = data.get("thinking")
    return CompletionRequest(
        model=r.string(r.need(data, "model", ""), "model"),
        messages=tuple(message_from_wire(m, r.join("messages", i)) for i, m in enumerate(messages)),
        system=system_from_wire(data.get("system")),
        max_tokens=r.integer(r.need(data, "max_tokens", ""), "max_tokens", minimum=1),
        temperature=None
        if data.get("temperature") is None
        else r.number(data["temperature"], "temperature", 0, 1),
        stop=r.stop_list(data.get("stop_sequences"), "stop_sequences"),
        tools=tuple(
            r.anthropic_tool(t, r.join("tools", i)) for i, t in enumerate(r.array(tools, "tools"))
        ),
        tool_choice=None if choice is None else r.anthropic_tool_choice(choice, "tool_choice"),
        top_p=None if data.get("top_p") is None else r.number(data["top_p"], "top_p", 0, 1),
        top_k=None if data.get("top_k") is None else r.integer(data["top_k"], "top_k", minimum=1),
        thinking=None if thinking is None else thinking_from_wire(thinking),
        end_user=end_user,
    )


# ---------------------------------------------------------------------- writing


def _cache(out: dict[str, Any], cc: CacheControl | None) -> dict[str, Any]:
    if cc is not None:
        out["cache_control"] = {"type": cc.type, **({"ttl": cc.ttl} if cc.ttl else {})}
    return out


def _source_to_wire(source: Base64Source | UrlSource | PlainTextSource) -> dict[str, Any]:
    if isinstance(source, Base64Source):
        return {"type": "base64", "media_type": source.media_type, "data": source.data}
    if isinstance(source, UrlSource):
        return {"type": "url", "url": source.url}
    return {"type": "text", "media_type": source.media_type, "data": source.data}


def block_to_wire(block: ContentBlock) -> dict[str, Any]:
    """One content block as Anthropic writes it."""
    if isinstance(block, TextBlock):
        return _cache({"type": "text", "text": block.text}, block.cache_control)
    if isinstance(block, ImageBlock):
        return _cache(
            {"type": "image", "source": _source_to_wire(block.source)}, block.cache_control
        )
    if isinstance(block, DocumentBlock):
        doc: dict[str, Any] = {"type": "document", "source": _source_to_wire(block.source)}
        if block.title is not None:
            doc["title"] = block.title
        if block.context is not None:
            doc["context"] = block.context
        return _cache(doc, block.cache_control)
    if isinstance(block, ToolUseBlock):
        return _cache(
            {"type": "tool_use", "id": block.id, "name": block.name, "input": dict(block.input)},
            block.cache_control,
        )
    if isinstance(block, ToolResultBlock):
        content: str | list[dict[str, Any]] = (
            block.content
            if isinstance(block.content, str)
            else [block_to_wire(b) for b in block.content]
        )
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block.tool_use_id,
            "content": content,
        }
        if block.is_error:
            result["is_error"] = True
        return _cache(result, block.cache_control)
    if isinstance(block, ThinkingBlock):
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    return {"type": "redacted_thinking", "data": block.data}


def content_to_wire(
    content: str | tuple[ContentBlock, ...] | tuple[TextBlock, ...] | None,
) -> str | list[dict[str, Any]] | None:
    """A message's (or system prompt's) content: a string as is, blocks as wire blocks."""
    if content is None or isinstance(content, str):
        return content
    return [block_to_wire(b) for b in content]


def tool_to_wire(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name, "input_schema": dict(tool.input_schema)}
    if tool.description is not None:
        out["description"] = tool.description
    return _cache(out, tool.cache_control)


def tool_choice_to_wire(choice: ToolChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"type": choice.type}
    if choice.type == "tool":
        out["name"] = choice.name
    if not choice.parallel and choice.type != "none":
        out["disable_parallel_tool_use"] = True
    return out


def request_to_wire(request: CompletionRequest) -> dict[str, Any]:
    """The Messages request body for `request` (`native` is never read here)."""
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [
            {"role": m.role, "content": content_to_wire(m.content)} for m in request.messages
        ],
    }
    if request.system is not None:
        body["system"] = (
            request.system
            if isinstance(request.system, str)
            else [block_to_wire(b) for b in request.system]
        )
    if request.temperature is not None:
        if request.temperature > 1:
            r.fail(
                "temperature",
                f"{request.temperature:g} is above the Anthropic API's maximum of 1",
                "use a temperature between 0 and 1 for this phase's Anthropic models",
            )
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [tool_to_wire(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = tool_choice_to_wire(request.tool_choice)
    if request.thinking is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": request.thinking.budget_tokens}
    if request.end_user is not None:
        body["metadata"] = {"user_id": request.end_user}
    return body


def stop_reason_from_wire(raw: str | None) -> str | None:
    """The normalised stop reason of Anthropic's `stop_reason`."""
    if raw is None:
        return None
    return _STOP_IN.get(raw, "other")


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    if not u:
        return Usage()
    return Usage(
        input_tokens=int(u.get("input_tokens") or 0),
        output_tokens=int(u.get("output_tokens") or 0),
        cache_read_tokens=int(u.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(u.get("cache_creation_input_tokens") or 0),
    )


def response_block_from_wire(b: Mapping[str, Any]) -> ContentBlock | None:
    """A block of an answer; block types phaseroute does not model (server tools) are None."""
    kind = b.get("type")
    if kind == "text":
        return TextBlock(str(b.get("text", "")))
    if kind == "tool_use":
        raw = b.get("input")
        return ToolUseBlock(
            str(b["id"]), str(b["name"]), dict(raw) if isinstance(raw, Mapping) else {}
        )
    if kind == "thinking":
        return ThinkingBlock(str(b.get("thinking", "")), str(b.get("signature", "")))
    if kind == "redacted_thinking":
        return RedactedThinkingBlock(str(b.get("data", "")))
    return None


def response_from_wire(
    data: Mapping[str, Any],
    *,
    provider: str = PROTOCOL,
    model_requested: str | None = None,
    request_id: str | None = None,
) -> CompletionResponse:
    """An Anthropic `Message` (as JSON / ``model_dump()``) as the internal response."""
    blocks = tuple(
        b for b in (response_block_from_wire(x) for x in data.get("content") or ()) if b is not None
    )
    model = str(data.get("model") or model_requested or "")
    raw = data.get("stop_reason")
    return CompletionResponse(
        text="".join(b.text for b in blocks if isinstance(b, TextBlock)),
        model_requested=model_requested or model,
        model_reported=model,
        provider=provider,
        usage=usage_from_wire(data.get("usage")),
        stop_reason=stop_reason_from_wire(raw),
        request_id=request_id,
        content=blocks,
        stop_reason_raw=raw,
    )


def usage_to_wire(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }


def stop_reason_to_wire(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _STOP_OUT.get(stop_reason, "end_turn")


def response_to_wire(
    response: CompletionResponse, *, message_id: str | None = None
) -> dict[str, Any]:
    """The Anthropic `Message` JSON for `response`."""
    return {
        "id": message_id or f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": response.model_reported,
        "content": [block_to_wire(b) for b in response.content],
        "stop_reason": stop_reason_to_wire(response.stop_reason),
        "stop_sequence": None,
        "usage": usage_to_wire(response.usage),
    }
