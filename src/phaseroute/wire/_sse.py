"""Server-sent events in each protocol, from phaseroute's stream events.

When an answer comes from an upstream of the other protocol (or whole, from a validated
phase), the gateway re-speaks it as the client's own stream: Anthropic's `message_start`,
content blocks with text / tool-input / thinking deltas, `message_delta` and
`message_stop`; or OpenAI's `chat.completion.chunk`s, a finish chunk, the usage chunk when
asked for, and `[DONE]`. `head`/`delta` write what can be sent as it arrives; `tail` writes
the end of the answer (stop reason, usage), which the gateway sends only once the answer is
recorded.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from phaseroute.providers._base import (
    CompletionResponse,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolCallDelta,
    ToolUseBlock,
)
from phaseroute.wire import anthropic as wire_anthropic
from phaseroute.wire import openai as wire_openai

Piece = TextDelta | ToolCallDelta | ThinkingDelta


def _dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def pieces_of(response: CompletionResponse) -> list[Piece]:
    """A whole answer as stream pieces (for an answer that was not streamed live)."""
    out: list[Piece] = []
    calls = 0
    for block in response.content:
        if isinstance(block, TextBlock) and block.text:
            out.append(TextDelta(block.text))
        elif isinstance(block, ThinkingBlock):
            out.append(ThinkingDelta(block.thinking))
        elif isinstance(block, ToolUseBlock):
            out.append(ToolCallDelta(calls, block.id, block.name, json.dumps(dict(block.input))))
            calls += 1
    return out


@dataclass
class AnthropicSse:
    """Writes a Messages stream: one content block per run of the same kind of piece."""

    model: str
    message_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex[:24]}")
    _index: int = -1
    _open: str | None = None  # the kind of the open block: text | tool_use | thinking
    _call: int | None = None

    def _event(self, name: str, data: dict[str, Any]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps({"type": name, **data}) + b"\n\n"

    def head(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return self._event("message_start", {"message": message}) + self._event("ping", {})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return self._event("content_block_stop", {"index": self._index})

    def _start(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        return out + self._event(
            "content_block_start", {"index": self._index, "content_block": block}
        )

    def delta(self, piece: Piece) -> bytes:
        out = b""
        if isinstance(piece, TextDelta):
            if self._open != "text":
                out += self._start("text", {"type": "text", "text": ""})
            delta: dict[str, Any] = {"type": "text_delta", "text": piece.text}
        elif isinstance(piece, ThinkingDelta):
            if self._open != "thinking":
                out += self._start("thinking", {"type": "thinking", "thinking": ""})
            delta = {"type": "thinking_delta", "thinking": piece.thinking}
        else:
            if self._open != "tool_use" or (piece.id is not None and piece.index != self._call):
                self._call = piece.index
                out += self._start(
                    "tool_use",
                    {
                        "type": "tool_use",
                        "id": piece.id or "",
                        "name": piece.name or "",
                        "input": {},
                    },
                )
            delta = {"type": "input_json_delta", "partial_json": piece.arguments_json_delta}
        return out + self._event("content_block_delta", {"index": self._index, "delta": delta})

    def tail(self, response: CompletionResponse) -> bytes:
        usage = wire_anthropic.usage_to_wire(response.usage)
        return (
            self._close()
            + self._event(
                "message_delta",
                {
                    "delta": {
                        "stop_reason": wire_anthropic.stop_reason_to_wire(response.stop_reason),
                        "stop_sequence": None,
                    },
                    "usage": usage,
                },
            )
            + self._event("message_stop", {})
        )


@dataclass
class OpenAISse:
    """Writes a Chat Completions chunk stream (`include_usage`: the usage chunk at the end)."""

    model: str
    include_usage: bool = False
    completion_id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))
    _calls: dict[int, int] = field(default_factory=dict)

    def _chunk(self, choices: list[dict[str, Any]], usage: object = None) -> bytes:
        data: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            data["usage"] = usage
        return b"data: " + _dumps(data) + b"\n\n"

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish}])

    def head(self) -> bytes:
        return self._delta({"role": "assistant", "content": ""})

    def delta(self, piece: Piece) -> bytes:
        if isinstance(piece, TextDelta):
            return self._delta({"content": piece.text})
        if isinstance(piece, ThinkingDelta):
            return b""  # Chat Completions does not show reasoning to the client
        call: dict[str, Any] = {"index": self._calls.setdefault(piece.index, len(self._calls))}
        function: dict[str, Any] = {"arguments": piece.arguments_json_delta}
        if piece.id is not None:
            call["id"] = piece.id
            call["type"] = "function"
        if piece.name is not None:
            function["name"] = piece.name
        call["function"] = function
        return self._delta({"tool_calls": [call]})

    def tail(self, response: CompletionResponse) -> bytes:
        out = self._delta({}, wire_openai.stop_reason_to_wire(response.stop_reason) or "stop")
        if self.include_usage:
            out += self._chunk([], wire_openai.usage_to_wire(response.usage))
        return out + b"data: [DONE]\n\n"
