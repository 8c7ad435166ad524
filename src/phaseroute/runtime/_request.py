"""Turning a caller's arguments into a `CompletionRequest`, with clear errors for bad input."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from phaseroute.errors import RequestError
from phaseroute.providers._base import CompletionRequest, Message

MessageLike = Message | Mapping[str, Any]
_ROLES = ("user", "assistant")


def _message(i: int, item: object) -> Message:
    if isinstance(item, Message):
        if item.role not in _ROLES or not isinstance(item.content, str):
            raise RequestError(f"messages[{i}]: role must be 'user' or 'assistant', content a str")
        return item
    if not isinstance(item, Mapping):
        raise RequestError(
            f"messages[{i}]: expected a Message or a mapping with 'role' and 'content', "
            f"got {type(item).__name__}"
        )
    extra = set(item) - {"role", "content"}
    if extra:
        raise RequestError(
            f"messages[{i}]: unknown field(s) {', '.join(sorted(map(str, extra)))} "
            "— a message has only 'role' and 'content'"
        )
    for key in ("role", "content"):
        if key not in item:
            raise RequestError(f"messages[{i}].{key}: missing")
    role, content = item["role"], item["content"]
    if role == "system":
        raise RequestError(
            f"messages[{i}].role: 'system' is not a message role here — pass system=... instead"
        )
    if role not in _ROLES:
        raise RequestError(f"messages[{i}].role: {role!r} — use 'user' or 'assistant'")
    if not isinstance(content, str):
        raise RequestError(
            f"messages[{i}].content: expected text (str), got {type(content).__name__}"
        )
    return Message(role, content)


def build_request(
    messages: Iterable[MessageLike] | str,
    *,
    system: str | None,
    max_tokens: int,
    temperature: float | None,
    stop: Iterable[str],
    metadata: Mapping[str, str] | None,
) -> CompletionRequest:
    """Validate the call's arguments; the model id is filled in per attempt."""
    if isinstance(messages, str):
        raise RequestError(
            "messages: expected a list of messages, got a str — wrap it: "
            '[{"role": "user", "content": ...}]'
        )
    coerced = tuple(_message(i, m) for i, m in enumerate(messages))
    if not coerced:
        raise RequestError("messages: at least one message is needed")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError(f"max_tokens: must be a positive integer, got {max_tokens!r}")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 2
    ):
        raise RequestError(f"temperature: must be between 0 and 2, got {temperature!r}")
    stops = (stop,) if isinstance(stop, str) else tuple(stop)
    if not all(isinstance(s, str) and s for s in stops):
        raise RequestError("stop: must be non-empty strings")
    if system is not None and not isinstance(system, str):
        raise RequestError(f"system: expected a str, got {type(system).__name__}")
    return CompletionRequest(
        model="",
        messages=coerced,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        stop=stops,
        metadata=dict(metadata or {}),
    )
