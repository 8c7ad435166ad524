"""Same-protocol passthrough: a client's own request body, and the upstream's own events.

A gateway client speaking the provider's own protocol gets fidelity: its JSON body goes
upstream unchanged except `model` (tools, thinking, cache_control, metadata and fields that
do not exist yet included), with the `anthropic-beta`/`anthropic-version` headers it sent;
the upstream's body or SSE events come back byte for byte. Usage and stop reason are read
on the way for accounting, nothing is rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NativeEvent:
    """One SSE event exactly as the upstream sent it (the blank line included).

    `terminal` marks the events that carry the end of the answer (Anthropic's
    `message_delta`/`message_stop`; OpenAI's finish chunk, usage chunk and `[DONE]`), which
    a gateway holds back until the answer is recorded. `text` is the text it adds, if any.
    """

    data: bytes
    terminal: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One parsed event of an SSE stream, with its raw bytes."""

    raw: bytes
    event: str | None
    data: str

    def json(self) -> Any:
        """The data as JSON, or None when it is not JSON (e.g. OpenAI's `[DONE]`)."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None


# An event ends at a blank line; the earliest of these ends it (a leftmost match ends first).
_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class SseSplitter:
    """Cuts a byte stream into SSE events without changing a byte of them.

    Events are cut by index from the unconsumed bytes, each boundary found by one search
    from the end of the last: a chunk holding many events (a busy gateway reads several at
    once) costs time in proportion to its length, not to its length times its events.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._start = 0  # where the unconsumed bytes of `_buffer` begin

    def feed(self, chunk: bytes) -> Iterator[SseEvent]:
        if self._start:
            self._buffer, self._start = self._buffer[self._start :], 0
        self._buffer = self._buffer + chunk if self._buffer else chunk
        while (cut := _BOUNDARY.search(self._buffer, self._start)) is not None:
            raw = self._buffer[self._start : cut.end()]
            self._start = cut.end()
            yield _parse(raw)

    def rest(self) -> bytes:
        """Bytes after the last complete event (non-empty means the stream was cut)."""
        return self._buffer[self._start :]


def _parse(raw: bytes) -> SseEvent:
    event: str | None = None
    data: list[str] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return SseEvent(raw, event, "\n".join(data))  # a comment or keep-alive has neither
