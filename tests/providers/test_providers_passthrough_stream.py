"""A streamed passthrough hands on the events of one upstream chunk as one, with their bytes
and text in order; terminal events stay apart, and an error keeps what came before it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from phaseroute.errors import ProviderError
from phaseroute.providers._base import CompletionRequest, Message, NativeBody, StreamEnd
from phaseroute.providers._native import NativeEvent
from phaseroute.providers._passthrough import astream_native


def _sse(kind: str, **data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def _delta(text: str) -> bytes:
    return _sse("content_block_delta", index=0, delta={"type": "text_delta", "text": text})


START = _sse(
    "message_start",
    message={"id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 0}},
)
END = _sse("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 2})
STOP = _sse("message_stop")


class _Response:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.headers = {"request-id": "req_1"}

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        pass


class _Client:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def post(self, path: str, **_: Any) -> _Response:
        return _Response(self.chunks)


def _events(chunks: list[bytes]) -> list[Any]:
    request = CompletionRequest(
        model="m",
        messages=(Message("user", "x"),),
        native=NativeBody("anthropic", {"model": "x", "messages": [], "stream": True}),
    )

    async def run() -> list[Any]:
        out: list[Any] = []
        stream = astream_native(
            _Client(chunks),
            request,
            protocol="anthropic",
            provider="p",
            sdk_errors=(),
            map_error=lambda e, **_: ProviderError(str(e)),
        )
        try:
            async for event in stream:
                out.append(event)
        except ProviderError as e:
            out.append(e)
        return out

    return asyncio.run(run())


def test_the_events_of_one_chunk_go_on_as_one_and_terminal_ones_apart() -> None:
    got = _events([START + _delta("a") + _delta("b"), _delta("c") + END + STOP])
    native = [e for e in got if isinstance(e, NativeEvent)]
    assert [(e.data, e.terminal, e.text) for e in native] == [
        (START + _delta("a") + _delta("b"), False, "ab"),
        (_delta("c"), False, "c"),
        (END, True, ""),
        (STOP, True, ""),
    ]
    assert isinstance(got[-1], StreamEnd)
    assert got[-1].response.text == "abc"


def test_an_error_event_keeps_the_events_before_it_in_its_chunk() -> None:
    error = _sse("error", error={"type": "overloaded_error", "message": "busy"})
    got = _events([START + _delta("a") + error + _delta("never")])
    assert isinstance(got[0], NativeEvent)
    assert got[0].data == START + _delta("a")
    assert isinstance(got[1], ProviderError)
    assert "overloaded_error" in str(got[1])
    assert len(got) == 2


@pytest.mark.parametrize("cut", [len(START) + 5, len(START) + len(_delta("a")) + 3])
def test_an_event_split_across_chunks_is_handed_on_whole(cut: int) -> None:
    stream = START + _delta("a") + _delta("b") + END + STOP
    got = _events([stream[:cut], stream[cut:]])
    native = [e for e in got if isinstance(e, NativeEvent)]
    assert b"".join(e.data for e in native) == stream
    assert "".join(e.text for e in native) == "ab"
