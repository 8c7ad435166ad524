"""The content of a successful answer, computed once and spoken in either wire format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from phaseroute.providers._tokens import approximate_tokens, truncate_to_tokens
from phaseroute.testing.upstream._script import ModelBehaviour, UpstreamRequest

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

    def deltas(self, chunk_chars: int) -> list[str]:
        return [self.text[i : i + chunk_chars] for i in range(0, len(self.text), chunk_chars)]


def make_answer(
    request: UpstreamRequest, behaviour: ModelBehaviour, request_id: str, message_id: str
) -> Answer:
    """Run the model's reply and apply the request's stop sequences and max_tokens."""
    reply = behaviour.reply
    text = reply if isinstance(reply, str) else reply(request)
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
