"""OpenAI Chat Completions <-> phaseroute's internal request and response.

System and developer messages at the start become the system prompt; `tool_calls` on an
assistant message become tool-use blocks; `role: tool` messages become tool-result blocks
of one user turn (as the Anthropic API requires). What Chat Completions cannot express — a
document, thinking, `top_k`, an image inside a tool result — is a `RequestError` naming
the field, raised by `request_to_wire` before any call. A tool result marked as an error is
sent as its text prefixed with ``Error: `` (Chat Completions has no error flag).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from phaseroute.providers import _assemble
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    Message,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
)
from phaseroute.wire import _read as r
from phaseroute.wire import anthropic

PROTOCOL = "openai"
# Chat Completions does not require a limit; the internal request does.
DEFAULT_MAX_TOKENS = 4096
TOOL_ERROR_PREFIX = "Error: "
# Arguments a model sent that are not a JSON object are kept under this key.
UNPARSED_ARGUMENTS = _assemble.UNPARSED_ARGUMENTS

_FIELDS = (
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "n",
)
_STOP_IN = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_STOP_OUT = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "other": "stop",
}


# ---------------------------------------------------------------------- reading


_ANTHROPIC_BLOCKS = {
    "user": ("text", "image", "document", "tool_result"),
    "assistant": ("text", "tool_use", "thinking", "redacted_thinking"),
    "system": ("text",),
    "tool": ("text",),
}


def part_from_wire(value: object, path: str, *, role: str, mixed: bool = False) -> ContentBlock:
    """One content part of a user/assistant/system message (with `mixed`, Anthropic content
    blocks are read too: the Python API accepts both SDKs' dialects)."""
    data = r.obj(value, path)
    kind = data.get("type")
    if mixed and kind in _ANTHROPIC_BLOCKS[role] and kind != "text":
        return anthropic.block_from_wire(data, path, _ANTHROPIC_BLOCKS[role])
    if kind == "text":
        return r.text_block(data, path)  # cache_control allowed (OpenRouter/LiteLLM habit)
    if kind == "image_url" and role == "user":
        r.only(data, path, ("type", "image_url", "cache_control"), "an image_url part")
        where = r.join(path, "image_url")
        image = r.obj(r.need(data, "image_url", path), where)
        r.only(image, where, ("url", "detail"), "image_url")
        url = r.string(r.need(image, "url", where), r.join(where, "url"))
        return ImageBlock(
            r.data_url(url, r.join(where, "url")),
            r.cache_control(data.get("cache_control"), r.join(path, "cache_control")),
        )
    if kind == "file" and role == "user":
        r.only(data, path, ("type", "file"), "a file part")
        where = r.join(path, "file")
        file = r.obj(r.need(data, "file", path), where)
        r.only(file, where, ("file_data", "filename"), "file")
        if "file_data" not in file:
            r.fail(
                r.join(where, "file_id"), "uploaded file ids cannot be translated", "send file_data"
            )
        source = r.data_url(r.string(file["file_data"], r.join(where, "file_data")), where)
        name = file.get("filename")
        return DocumentBlock(
            source, None if name is None else r.string(name, r.join(where, "filename"))
        )
    allowed = "text, image_url or file" if role == "user" else "text"
    if mixed:
        allowed = ", ".join(sorted({*_ANTHROPIC_BLOCKS[role], *allowed.split(", ")} - {"or"}))
    raise r.error(
        r.join(path, "type"),
        f"{kind!r} is not a content part phaseroute translates here",
        f"use {allowed}",
    )


def _content(
    value: object, path: str, role: str, mixed: bool = False
) -> str | tuple[ContentBlock, ...]:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list | tuple):
        r.fail(path, f"expected a string or a list of content parts, got {type(value).__name__}")
    items = value
    return tuple(
        part_from_wire(p, r.join(path, i), role=role, mixed=mixed) for i, p in enumerate(items)
    )


def arguments_from_wire(raw: str) -> dict[str, Any]:
    """A tool call's JSON arguments; text that is not a JSON object is kept, not lost."""
    return _assemble.parse_arguments(raw)


def _tool_call(value: object, path: str) -> ToolUseBlock:
    data = r.obj(value, path)
    r.only(data, path, ("id", "type", "function"), "a tool call")
    if data.get("type", "function") != "function":
        r.fail(
            r.join(path, "type"),
            f"{data.get('type')!r} tool calls are not translated",
            "use function",
        )
    where = r.join(path, "function")
    fn = r.obj(r.need(data, "function", path), where)
    r.only(fn, where, ("name", "arguments"), "a function call")
    raw = r.string(fn.get("arguments", "{}"), r.join(where, "arguments"))
    try:
        args = json.loads(raw) if raw.strip() else {}
    except ValueError as e:
        r.fail(
            r.join(where, "arguments"),
            f"not valid JSON ({e})",
            "send the arguments as a JSON object string",
        )
    if not isinstance(args, dict):
        r.fail(r.join(where, "arguments"), "must be a JSON object")
    return ToolUseBlock(
        r.string(r.need(data, "id", path), r.join(path, "id")),
        r.string(r.need(fn, "name", where), r.join(where, "name")),
        args,
    )


def _tool_result(data: Mapping[str, Any], path: str) -> ToolResultBlock:
    r.only(data, path, ("role", "tool_call_id", "content"), "a tool message")
    content = _content(data.get("content", ""), r.join(path, "content"), "tool")
    text = (
        content
        if isinstance(content, str)
        else "".join(b.text for b in content if isinstance(b, TextBlock))
    )
    return ToolResultBlock(
        r.string(r.need(data, "tool_call_id", path), r.join(path, "tool_call_id")), text
    )


def messages_from_wire(
    items: list[Any] | tuple[Any, ...], path: str = "messages", *, mixed: bool = False
) -> tuple[str | tuple[TextBlock, ...] | None, tuple[Message, ...]]:
    """(system, messages) of a Chat Completions message list. With `mixed` (the Python
    API), Anthropic content blocks and ready `Message` objects are accepted as well."""
    system_parts: list[TextBlock] = []
    messages: list[Message] = []
    pending_results: list[ContentBlock] = []

    def flush(extra: tuple[ContentBlock, ...] = ()) -> None:
        if pending_results or extra:
            messages.append(Message("user", (*pending_results, *extra)))
            pending_results.clear()

    for i, item in enumerate(items):
        where = r.join(path, i)
        if mixed and isinstance(item, Message):
            if item.role not in ("user", "assistant"):
                r.fail(r.join(where, "role"), f"{item.role!r} is not a message role")
            if item.role == "user" and pending_results:
                flush(item.blocks)
            else:
                flush()
                messages.append(item)
            continue
        if mixed and not isinstance(item, Mapping):
            r.fail(
                where,
                f"expected a Message or a mapping with 'role' and 'content', "
                f"got {type(item).__name__}",
            )
        data = r.obj(item, where)
        role = r.need(data, "role", where)
        if role in ("system", "developer"):
            r.only(data, where, ("role", "content"), "a system message")
            if messages or pending_results:
                r.fail(
                    r.join(where, "role"),
                    "a system message after the conversation started cannot be translated",
                    "move system messages to the start",
                )
            content = _content(
                r.need(data, "content", where), r.join(where, "content"), "system", mixed
            )
            system_parts.extend(
                (TextBlock(content),)
                if isinstance(content, str)
                else (b for b in content if isinstance(b, TextBlock))
            )
        elif role == "tool":
            pending_results.append(_tool_result(data, where))
        elif role == "user":
            r.only(data, where, ("role", "content"), "a user message")
            content = _content(
                r.need(data, "content", where), r.join(where, "content"), "user", mixed
            )
            if pending_results:
                flush(content if isinstance(content, tuple) else (TextBlock(content),))
            else:
                messages.append(Message("user", content))
        elif role == "assistant":
            flush()
            r.only(
                data, where, ("role", "content", "tool_calls", "refusal"), "an assistant message"
            )
            content = _content(data.get("content"), r.join(where, "content"), "assistant", mixed)
            calls = data.get("tool_calls") or []
            blocks = tuple(
                _tool_call(c, r.join(r.join(where, "tool_calls"), j))
                for j, c in enumerate(r.array(calls, r.join(where, "tool_calls")))
            )
            if blocks:
                text = (
                    content
                    if isinstance(content, tuple)
                    else ((TextBlock(content),) if content else ())
                )
                messages.append(Message("assistant", (*text, *blocks)))
            else:
                messages.append(Message("assistant", content))
        else:
            r.fail(
                r.join(where, "role"),
                f"{role!r} is not a message role",
                "use system, user, assistant or tool",
            )
    flush()
    system: str | tuple[TextBlock, ...] | None = None
    if len(system_parts) == 1 and system_parts[0].cache_control is None:
        system = system_parts[0].text
    elif system_parts:
        system = tuple(system_parts)
    return system, tuple(messages)


def tool_from_wire(value: object, path: str) -> ToolSpec:
    data = r.obj(value, path)
    r.only(data, path, ("type", "function", "cache_control"), "a tool")
    if data.get("type") != "function":
        r.fail(
            r.join(path, "type"), f"{data.get('type')!r} tools are not translated", "use function"
        )
    where = r.join(path, "function")
    fn = r.obj(r.need(data, "function", path), where)
    r.only(fn, where, ("name", "description", "parameters", "strict"), "a function")
    if fn.get("strict"):
        r.fail(
            r.join(where, "strict"),
            "strict function schemas cannot be translated",
            "remove 'strict'",
        )
    description = fn.get("description")
    params = fn.get("parameters")
    return ToolSpec(
        r.string(r.need(fn, "name", where), r.join(where, "name")),
        dict(r.obj(params, r.join(where, "parameters")))
        if params is not None
        else {"type": "object", "properties": {}},
        None if description is None else r.string(description, r.join(where, "description")),
        r.cache_control(data.get("cache_control"), r.join(path, "cache_control")),
    )


def tool_choice_from_wire(value: object, parallel: bool, path: str = "tool_choice") -> ToolChoice:
    if isinstance(value, str):
        kinds: dict[str, Literal["auto", "any", "none"]] = {
            "auto": "auto", "required": "any", "none": "none"
        }  # fmt: skip
        if value not in kinds:
            r.fail(
                path, f"{value!r} is not a tool choice", "use auto, required, none or a function"
            )
        return ToolChoice(kinds[value], None, parallel)
    data = r.obj(value, path)
    r.only(data, path, ("type", "function"), "tool_choice")
    if data.get("type") != "function":
        r.fail(r.join(path, "type"), f"{data.get('type')!r} is not translated", "use function")
    where = r.join(path, "function")
    fn = r.obj(r.need(data, "function", path), where)
    r.only(fn, where, ("name",), "tool_choice.function")
    return ToolChoice("tool", r.string(r.need(fn, "name", where), r.join(where, "name")), parallel)


def request_from_wire(body: Mapping[str, Any], *, strict: bool = True) -> CompletionRequest:
    """A Chat Completions request body as the internal request.

    With `strict=False`, unknown top-level parameters are ignored (for a passthrough that
    sends the client's own body); messages, tools and parts stay strict.
    """
    data = r.obj(body, "")
    if strict:
        r.only(data, "", _FIELDS, "an OpenAI Chat Completions request")
    n = data.get("n")
    if n not in (None, 1):
        r.fail("n", f"{n!r} choices cannot be routed", "ask for one choice (n=1)")
    items = r.array(r.need(data, "messages", ""), "messages")
    if not items:
        r.fail("messages", "at least one message is needed")
    system, messages = messages_from_wire(list(items))
    if not messages:
        r.fail("messages", "only system messages were given", "add a user message")
    limit_key = (
        "max_completion_tokens" if data.get("max_completion_tokens") is not None else "max_tokens"
    )
    limit = data.get(limit_key)
    parallel_raw = data.get("parallel_tool_calls")
    parallel = True if parallel_raw is None else r.boolean(parallel_raw, "parallel_tool_calls")
    choice_raw = data.get("tool_choice")
    choice = (
        tool_choice_from_wire(choice_raw, parallel)
        if choice_raw is not None
        else (None if parallel else ToolChoice("auto", None, False))
    )
    tools = data.get("tools") or []
    user = data.get("user")
    return CompletionRequest(
        model=r.string(r.need(data, "model", ""), "model"),
        messages=messages,
        system=system,
        max_tokens=DEFAULT_MAX_TOKENS if limit is None else r.integer(limit, limit_key, minimum=1),
        temperature=None
        if data.get("temperature") is None
        else r.number(data["temperature"], "temperature", 0, 2),
        top_p=None if data.get("top_p") is None else r.number(data["top_p"], "top_p", 0, 1),
        stop=r.stop_list(data.get("stop"), "stop"),
        tools=tuple(
            tool_from_wire(t, r.join("tools", i)) for i, t in enumerate(r.array(tools, "tools"))
        ),
        tool_choice=choice,
        end_user=None if user is None else r.string(user, "user"),
    )


# ---------------------------------------------------------------------- writing


def _cannot(path: str, what: str, fix: str) -> None:
    r.fail(path, f"{what} cannot be sent to an OpenAI-compatible model", fix)


def _part(block: ContentBlock, path: str) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ImageBlock):
        return {"type": "image_url", "image_url": {"url": r.as_data_url(block.source)}}
    if isinstance(block, DocumentBlock):
        _cannot(
            path, "a document block", "route this phase to an Anthropic model, or send the text"
        )
    _cannot(path, f"a {type(block).__name__} here", "remove it")
    raise AssertionError("unreachable")  # pragma: no cover


def _parts(blocks: tuple[ContentBlock, ...], path: str) -> str | list[dict[str, Any]]:
    if all(isinstance(b, TextBlock) for b in blocks):
        return "".join(b.text for b in blocks if isinstance(b, TextBlock))
    return [_part(b, r.join(path, i)) for i, b in enumerate(blocks)]


def _tool_result_to_wire(block: ToolResultBlock, path: str) -> dict[str, Any]:
    if isinstance(block.content, str):
        text = block.content
    else:
        for i, b in enumerate(block.content):
            if not isinstance(b, TextBlock):
                _cannot(
                    r.join(r.join(path, "content"), i), "an image in a tool result", "return text"
                )
        text = block.text
    if block.is_error:
        text = TOOL_ERROR_PREFIX + text
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": text}


def _message_to_wire(m: Message, path: str) -> list[dict[str, Any]]:
    if isinstance(m.content, str):
        return [{"role": m.role, "content": m.content}]
    where = r.join(path, "content")
    if m.role == "assistant":
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for i, b in enumerate(m.content):
            if isinstance(b, TextBlock):
                texts.append(b.text)
            elif isinstance(b, ToolUseBlock):
                calls.append(
                    {
                        "id": b.id,
                        "type": "function",
                        "function": {"name": b.name, "arguments": json.dumps(dict(b.input))},
                    }
                )
            elif isinstance(b, ThinkingBlock | RedactedThinkingBlock):
                _cannot(
                    r.join(where, i),
                    "a thinking block",
                    "route this phase to an Anthropic model, or drop the thinking blocks",
                )
            else:
                _cannot(r.join(where, i), f"a {type(b).__name__} in an assistant turn", "remove it")
        out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
        if calls:
            out["tool_calls"] = calls
        return [out]
    results = [
        _tool_result_to_wire(b, r.join(where, i))
        for i, b in enumerate(m.content)
        if isinstance(b, ToolResultBlock)
    ]
    rest = tuple(b for b in m.content if not isinstance(b, ToolResultBlock))
    if rest:
        for i, b in enumerate(m.content):
            if isinstance(b, ToolUseBlock | ThinkingBlock | RedactedThinkingBlock):
                _cannot(r.join(where, i), f"a {type(b).__name__} in a user turn", "remove it")
        results.append({"role": "user", "content": _parts(rest, where)})
    return results


def tool_to_wire(tool: ToolSpec) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.input_schema)}
    if tool.description is not None:
        fn["description"] = tool.description
    return {"type": "function", "function": fn}


def tool_choice_to_wire(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.type == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]


def request_to_wire(
    request: CompletionRequest,
    *,
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
) -> dict[str, Any]:
    """The Chat Completions body for `request`; what it cannot express is a `RequestError`."""
    if request.top_k is not None:
        _cannot("top_k", "top_k", "remove it for phases routed to OpenAI-compatible models")
    if request.thinking is not None:
        _cannot("thinking", "extended thinking", "route this phase to an Anthropic model")
    messages: list[dict[str, Any]] = []
    if request.system is not None:
        messages.append({"role": "system", "content": request.system_text})
    for i, m in enumerate(request.messages):
        messages.extend(_message_to_wire(m, r.join("messages", i)))
    body: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        max_tokens_param: request.max_tokens,
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [tool_to_wire(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = tool_choice_to_wire(request.tool_choice)
        if not request.tool_choice.parallel and request.tools:
            body["parallel_tool_calls"] = False
    if request.end_user is not None:
        body["user"] = request.end_user
    return body


def stop_reason_from_wire(raw: str | None) -> str | None:
    if raw is None:
        return None
    return _STOP_IN.get(raw, "other")


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """OpenAI's prompt tokens include cached ones; phaseroute's `input_tokens` do not."""
    if not u:
        return Usage()
    details = u.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    return Usage(
        input_tokens=max(0, int(u.get("prompt_tokens") or 0) - cached),
        output_tokens=int(u.get("completion_tokens") or 0),
        cache_read_tokens=cached,
    )


def response_from_wire(
    data: Mapping[str, Any],
    *,
    provider: str = PROTOCOL,
    model_requested: str | None = None,
    request_id: str | None = None,
) -> CompletionResponse:
    """A `ChatCompletion` (as JSON / ``model_dump()``) as the internal response."""
    choices = data.get("choices") or []
    choice = choices[0] if choices else {}
    message = choice.get("message") or {}
    blocks: list[ContentBlock] = []
    text = message.get("content") or message.get("refusal") or ""
    if text:
        blocks.append(TextBlock(text))
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        blocks.append(
            ToolUseBlock(
                str(call.get("id")),
                str(fn.get("name")),
                arguments_from_wire(fn.get("arguments") or ""),
            )
        )
    raw = choice.get("finish_reason")
    stop = stop_reason_from_wire(raw)
    if message.get("refusal") and not message.get("content"):
        stop = "refusal"
    model = str(data.get("model") or model_requested or "")
    return CompletionResponse(
        text=text,
        model_requested=model_requested or model,
        model_reported=model,
        provider=provider,
        usage=usage_from_wire(data.get("usage")),
        stop_reason=stop,
        request_id=request_id,
        content=tuple(blocks),
        stop_reason_raw=raw,
    )


def usage_to_wire(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }


def stop_reason_to_wire(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _STOP_OUT.get(stop_reason, "stop")


def response_to_wire(
    response: CompletionResponse, *, completion_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """The `ChatCompletion` JSON for `response` (thinking blocks are not shown to the client)."""
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": json.dumps(dict(b.input))},
        }
        for b in response.tool_calls
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": response.text or None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": completion_id or f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": response.model_reported,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": stop_reason_to_wire(response.stop_reason),
            }
        ],
        "usage": usage_to_wire(response.usage),
    }
