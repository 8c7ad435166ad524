"""Complete content blocks from a stream's pieces, for both providers' streams.

Pieces arrive keyed by the provider's block (Anthropic's block index; OpenAI's text or
tool-call index); blocks come out in the order they started. A tool call's JSON arguments
are parsed once the stream is complete.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Literal

from phaseroute.providers._base import (
    ContentBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)

# Arguments a model streamed that are not a JSON object are kept under this key.
UNPARSED_ARGUMENTS = "_unparsed_arguments"


@dataclass
class _Partial:
    kind: Literal["text", "tool_use", "thinking", "redacted_thinking"]
    parts: list[str] = field(default_factory=list)
    id: str = ""
    name: str = ""
    signature: str = ""
    tool_index: int = -1


def parse_arguments(raw: str) -> dict[str, object]:
    """A tool call's JSON arguments; text that is not a JSON object is kept, not lost."""
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {UNPARSED_ARGUMENTS: raw}
    return parsed if isinstance(parsed, dict) else {UNPARSED_ARGUMENTS: raw}


class ContentAssembler:
    """Collects streamed text, thinking and tool-call pieces into content blocks."""

    def __init__(self) -> None:
        self._blocks: dict[Hashable, _Partial] = {}
        self._tools = 0

    def _get(
        self, key: Hashable, kind: Literal["text", "thinking", "redacted_thinking"]
    ) -> _Partial:
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = _Partial(kind)
        return block

    def text(self, key: Hashable, piece: str) -> None:
        self._get(key, "text").parts.append(piece)

    def thinking(self, key: Hashable, piece: str) -> None:
        self._get(key, "thinking").parts.append(piece)

    def signature(self, key: Hashable, piece: str) -> None:
        self._get(key, "thinking").signature += piece

    def redacted(self, key: Hashable, data: str) -> None:
        self._get(key, "redacted_thinking").parts.append(data)

    def tool_start(self, key: Hashable, id: str, name: str) -> int:
        """Start a tool call; returns its ordinal among the answer's tool calls."""
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = _Partial("tool_use", tool_index=self._tools)
            self._tools += 1
        block.id = block.id or id
        block.name = block.name or name
        return block.tool_index

    def tool_arguments(self, key: Hashable, piece: str) -> int:
        """Add to a tool call's JSON arguments; returns the call's ordinal."""
        block = self._blocks.get(key)
        if block is None:
            return self.tool_start(key, "", "") if not piece else self._new_tool(key, piece)
        block.parts.append(piece)
        return block.tool_index

    def _new_tool(self, key: Hashable, piece: str) -> int:
        index = self.tool_start(key, "", "")
        self._blocks[key].parts.append(piece)
        return index

    @property
    def text_so_far(self) -> str:
        return "".join("".join(b.parts) for b in self._blocks.values() if b.kind == "text")

    def blocks(self) -> tuple[ContentBlock, ...]:
        out: list[ContentBlock] = []
        for b in self._blocks.values():
            joined = "".join(b.parts)
            if b.kind == "text":
                if joined:
                    out.append(TextBlock(joined))
            elif b.kind == "tool_use":
                out.append(ToolUseBlock(b.id, b.name, parse_arguments(joined)))
            elif b.kind == "thinking":
                out.append(ThinkingBlock(joined, b.signature))
            else:
                out.append(RedactedThinkingBlock(joined))
        return tuple(out)
