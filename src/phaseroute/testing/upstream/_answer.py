"""The content of a successful answer, computed once and spoken in either wire format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from phaseroute.providers._tokens import approximate_tokens, truncate_to_tokens
from phaseroute.testing.upstream._script import (
    ModelBehaviour,
    ToolCall,
    ToolResult,
    Turn,
    UpstreamRequest,
)

StopKind = Literal["end", "stop_sequence", "max_tokens"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer before it is put on the wire."""

    text: str
    model: str  # the model the upstream says served the call
    stop: StopKind
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    request_id: str
    message_id: str
    tool_calls: tuple[tuple[str, ToolCall], ...] = ()  # (id, call)

    @property
    def stop_name(self) -> StopKind | Literal["tool_use"]:
        return "tool_use" if self.tool_calls and self.stop == "end" else self.stop

    def deltas(self, chunk_chars: int) -> list[str]:
        return [self.text[i : i + chunk_chars] for i in range(0, len(self.text), chunk_chars)]


def make_answer(
    request: UpstreamRequest, behaviour: ModelBehaviour, request_id: str, message_id: str
) -> Answer:
    """Run the model's reply and apply the request's stop sequences and max_tokens."""
    reply = behaviour.reply
    said = reply if isinstance(reply, str | Turn) else reply(request)
    text = said if isinstance(said, str) else said.text
    calls = () if isinstance(said, str) else said.tool_calls
    stop: StopKind = "end"
    stop_sequence = None
    cut = min(
        ((text.find(s), s) for s in request.stop if s and s in text),
        default=None,
    )
    if cut is not None:
        text, stop, stop_sequence = text[: cut[0]], "stop_sequence", cut[1]
    if request.max_tokens is not None and approximate_tokens(text) > request.max_tokens:
        text, stop, stop_sequence = truncate_to_tokens(text, request.max_tokens), "max_tokens", None
    prompt = "\n".join([request.system or "", *(t for _, t in request.messages)])
    return Answer(
        text=text,
        model=behaviour.served_as or request.model,
        stop=stop,
        stop_sequence=stop_sequence,
        input_tokens=approximate_tokens(prompt),
        output_tokens=approximate_tokens(text),
        cache_read_tokens=behaviour.cache_read_tokens,
        cache_write_tokens=behaviour.cache_write_tokens,
        request_id=request_id,
        message_id=message_id,
        tool_calls=tuple((f"toolu_{message_id[-12:]}_{i}", call) for i, call in enumerate(calls)),
    )


def arguments_json(call: ToolCall) -> str:
    return json.dumps(dict(call.arguments), separators=(",", ":"))


def tool_results_anthropic(messages: object) -> tuple[ToolResult, ...]:
    """Every tool_result block of an Anthropic conversation, in order."""
    out: list[ToolResult] = []
    for m in messages if isinstance(messages, list) else ():
        content = m.get("content") if isinstance(m, Mapping) else None
        for b in content if isinstance(content, list) else ():
            if isinstance(b, Mapping) and b.get("type") == "tool_result":
                out.append(
                    ToolResult(
                        str(b.get("tool_use_id")),
                        text_of(b.get("content")),
                        bool(b.get("is_error", False)),
                    )
                )
    return tuple(out)


def tool_results_openai(messages: object) -> tuple[ToolResult, ...]:
    """Every role-tool message of a Chat Completions conversation, in order."""
    return tuple(
        ToolResult(str(m.get("tool_call_id")), text_of(m.get("content")), False)
        for m in (messages if isinstance(messages, list) else ())
        if isinstance(m, Mapping) and m.get("role") == "tool"
    )


def text_of(content: object) -> str:
    """Text of a message content: a string, or a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(b.get("text", "")) for b in content if isinstance(b, Mapping) and "text" in b
        )
    return ""


def dumps(obj: object) -> bytes:
    """Compact JSON, as the real APIs send it."""
    return json.dumps(obj, separators=(",", ":")).encode()
