"""Reading wire JSON into the internal types: located errors and the blocks both APIs share.

Every error is a `RequestError` naming the JSON path (``messages[2].content[0].type``) and
the fix, raised before any call is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from phaseroute.errors import Problem, RequestError
from phaseroute.providers._base import (
    Base64Source,
    CacheControl,
    DocumentBlock,
    ImageBlock,
    PlainTextSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    UrlSource,
)


def error(path: str, message: str, fix: str | None = None) -> RequestError:
    """The one clear error for a bad field at `path`."""
    return RequestError([Problem(message, path=path or "(body)", fix=fix)])


def fail(path: str, message: str, fix: str | None = None) -> NoReturn:
    """Raise the one clear error for a bad field at `path`."""
    raise error(path, message, fix)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        fail(path, f"expected a JSON object, got {type(value).__name__}")
    return value


def array(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        fail(path, f"expected a JSON array, got {type(value).__name__}")
    return value


def string(value: object, path: str) -> str:
    if not isinstance(value, str):
        fail(path, f"expected a string, got {type(value).__name__}")
    return value


def integer(value: object, path: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        fail(path, f"must be at least {minimum}, got {value}")
    return value


def number(value: object, path: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(path, f"expected a number, got {value!r}")
    if not low <= value <= high:
        fail(path, f"must be between {low:g} and {high:g}, got {value}")
    return float(value)


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        fail(path, f"expected true or false, got {value!r}")
    return value


def only(data: Mapping[str, Any], path: str, allowed: Sequence[str], what: str) -> None:
    """Reject fields outside `allowed`, naming the first by path."""
    for key in data:
        if key not in allowed:
            fail(
                join(path, str(key)),
                f"unknown or untranslatable field in {what}",
                f"remove it (phaseroute translates: {', '.join(allowed)})",
            )


def need(data: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in data:
        fail(join(path, key), "missing", f"add {key!r}")
    return data[key]


def stop_list(value: object, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    items = array(value, path)
    out = tuple(string(s, join(path, i)) for i, s in enumerate(items))
    for i, s in enumerate(out):
        if not s:
            fail(join(path, i), "a stop sequence must not be empty")
    return out


def cache_control(value: object, path: str) -> CacheControl | None:
    if value is None:
        return None
    data = obj(value, path)
    only(data, path, ("type", "ttl"), "cache_control")
    kind = data.get("type")
    if kind != "ephemeral":
        fail(join(path, "type"), f"{kind!r} is not a cache type", "use 'ephemeral'")
    ttl = data.get("ttl")
    if ttl is not None and ttl not in ("5m", "1h"):
        fail(join(path, "ttl"), f"{ttl!r} is not a cache lifetime", "use '5m' or '1h'")
    return CacheControl(ttl=ttl)


def data_url(url: str, path: str) -> Base64Source | UrlSource:
    """An OpenAI image/file URL: a ``data:<type>;base64,<data>`` URL is inline data."""
    if not url.startswith("data:"):
        return UrlSource(url)
    head, sep, payload = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if not sep or encoding != "base64" or not media_type:
        fail(path, "a data URL must look like data:<media type>;base64,<data>")
    return Base64Source(media_type, payload)


def as_data_url(source: Base64Source | UrlSource) -> str:
    if isinstance(source, UrlSource):
        return source.url
    return f"data:{source.media_type};base64,{source.data}"


# ---------------------------------------------------------------------- Anthropic-shaped


def _source(
    value: object, path: str, *, document: bool
) -> Base64Source | UrlSource | PlainTextSource:
    data = obj(value, path)
    kind = data.get("type")
    if kind == "base64":
        only(data, path, ("type", "media_type", "data"), "a base64 source")
        return Base64Source(
            string(need(data, "media_type", path), join(path, "media_type")),
            string(need(data, "data", path), join(path, "data")),
        )
    if kind == "url":
        only(data, path, ("type", "url"), "a url source")
        return UrlSource(string(need(data, "url", path), join(path, "url")))
    if kind == "text" and document:
        only(data, path, ("type", "media_type", "data"), "a text source")
        return PlainTextSource(
            string(need(data, "data", path), join(path, "data")),
            str(data.get("media_type", "text/plain")),
        )
    allowed = "'base64', 'url' or 'text'" if document else "'base64' or 'url'"
    fail(join(path, "type"), f"{kind!r} is not a source phaseroute translates", f"use {allowed}")


def text_block(data: Mapping[str, Any], path: str) -> TextBlock:
    only(data, path, ("type", "text", "cache_control", "citations"), "a text block")
    if data.get("citations"):
        fail(join(path, "citations"), "citations cannot be translated", "remove them")
    return TextBlock(
        string(need(data, "text", path), join(path, "text")),
        cache_control(data.get("cache_control"), join(path, "cache_control")),
    )


def image_block(data: Mapping[str, Any], path: str) -> ImageBlock:
    only(data, path, ("type", "source", "cache_control"), "an image block")
    source = _source(need(data, "source", path), join(path, "source"), document=False)
    assert not isinstance(source, PlainTextSource)
    return ImageBlock(source, cache_control(data.get("cache_control"), join(path, "cache_control")))


def document_block(data: Mapping[str, Any], path: str) -> DocumentBlock:
    only(
        data, path, ("type", "source", "title", "context", "cache_control", "citations"),
        "a document block",
    )  # fmt: skip
    citations = data.get("citations")
    if citations and obj(citations, join(path, "citations")).get("enabled"):
        fail(join(path, "citations"), "citations cannot be translated", "remove them")
    title = data.get("title")
    context = data.get("context")
    return DocumentBlock(
        _source(need(data, "source", path), join(path, "source"), document=True),
        None if title is None else string(title, join(path, "title")),
        None if context is None else string(context, join(path, "context")),
        cache_control(data.get("cache_control"), join(path, "cache_control")),
    )


def tool_use_block(data: Mapping[str, Any], path: str) -> ToolUseBlock:
    only(data, path, ("type", "id", "name", "input", "cache_control"), "a tool_use block")
    return ToolUseBlock(
        string(need(data, "id", path), join(path, "id")),
        string(need(data, "name", path), join(path, "name")),
        dict(obj(need(data, "input", path), join(path, "input"))),
        cache_control(data.get("cache_control"), join(path, "cache_control")),
    )


def tool_result_block(data: Mapping[str, Any], path: str) -> ToolResultBlock:
    only(
        data, path, ("type", "tool_use_id", "content", "is_error", "cache_control"),
        "a tool_result block",
    )  # fmt: skip
    raw = data.get("content", "")
    content: str | tuple[TextBlock | ImageBlock, ...]
    if isinstance(raw, str):
        content = raw
    else:
        parts: list[TextBlock | ImageBlock] = []
        for i, item in enumerate(array(raw, join(path, "content"))):
            where = join(join(path, "content"), i)
            block = obj(item, where)
            kind = block.get("type")
            if kind == "text":
                parts.append(text_block(block, where))
            elif kind == "image":
                parts.append(image_block(block, where))
            else:
                fail(
                    join(where, "type"),
                    f"{kind!r} cannot be inside a tool result",
                    "use text or image",
                )
        content = tuple(parts)
    is_error = data.get("is_error", False)
    return ToolResultBlock(
        string(need(data, "tool_use_id", path), join(path, "tool_use_id")),
        content,
        boolean(is_error if is_error is not None else False, join(path, "is_error")),
        cache_control(data.get("cache_control"), join(path, "cache_control")),
    )


def thinking_block(data: Mapping[str, Any], path: str) -> ThinkingBlock:
    only(data, path, ("type", "thinking", "signature"), "a thinking block")
    return ThinkingBlock(
        string(need(data, "thinking", path), join(path, "thinking")),
        string(need(data, "signature", path), join(path, "signature")),
    )


def redacted_thinking_block(data: Mapping[str, Any], path: str) -> RedactedThinkingBlock:
    only(data, path, ("type", "data"), "a redacted_thinking block")
    return RedactedThinkingBlock(string(need(data, "data", path), join(path, "data")))


def anthropic_tool(value: object, path: str) -> ToolSpec:
    data = obj(value, path)
    kind = data.get("type")
    if kind not in (None, "custom"):
        fail(
            join(path, "type"),
            f"{kind!r} is a server tool phaseroute cannot translate",
            "declare a custom tool with name, description and input_schema",
        )
    only(data, path, ("type", "name", "description", "input_schema", "cache_control"), "a tool")
    description = data.get("description")
    return ToolSpec(
        string(need(data, "name", path), join(path, "name")),
        dict(obj(need(data, "input_schema", path), join(path, "input_schema"))),
        None if description is None else string(description, join(path, "description")),
        cache_control(data.get("cache_control"), join(path, "cache_control")),
    )


def anthropic_tool_choice(value: object, path: str) -> ToolChoice:
    data = obj(value, path)
    only(data, path, ("type", "name", "disable_parallel_tool_use"), "tool_choice")
    kind = data.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        fail(join(path, "type"), f"{kind!r} is not a tool choice", "use auto, any, tool or none")
    name = data.get("name")
    if kind == "tool":
        name = string(need(data, "name", path), join(path, "name"))
    elif name is not None:
        fail(join(path, "name"), f"a name only goes with type 'tool', not {kind!r}")
    disable = data.get("disable_parallel_tool_use", False)
    parallel = not boolean(disable, join(path, "disable_parallel_tool_use"))
    return ToolChoice(kind, name, parallel)
