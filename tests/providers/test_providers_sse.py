"""The SSE splitter cuts events exactly where the straightforward definition does, however the
stream is chunked, and changes no byte."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from phaseroute.providers._native import SseSplitter

_SEPARATORS = (b"\n\n", b"\r\n\r\n", b"\r\r")


def _reference(stream: bytes) -> tuple[list[bytes], bytes]:
    """Cut at the earliest end of any blank-line separator, again and again."""
    events = []
    while True:
        ends = [i + len(sep) for sep in _SEPARATORS if (i := stream.find(sep)) != -1]
        if not ends:
            return events, stream
        cut = min(ends)
        events.append(stream[:cut])
        stream = stream[cut:]


_pieces = st.sampled_from([b"a", b"\r", b"\n", b":", b" ", b"data: {}", b"event: x", b"\xc3\xa9"])
_streams = st.lists(_pieces, max_size=60).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(_streams, st.lists(st.integers(min_value=0, max_value=60), max_size=8))
def test_events_are_cut_as_the_definition_says_however_the_stream_is_chunked(
    stream: bytes, cuts: list[int]
) -> None:
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    splitter = SseSplitter()
    events = [
        sse.raw
        for start, end in itertools.pairwise(bounds)
        for sse in splitter.feed(stream[start:end])
    ]
    assert (events, splitter.rest()) == _reference(stream)
    assert b"".join(events) + splitter.rest() == stream


def test_a_chunk_of_many_events_is_cut_into_each_of_them() -> None:
    events = [f'data: {{"n": {i}}}\n\n'.encode() for i in range(1000)]
    splitter = SseSplitter()
    got = list(splitter.feed(b"".join(events) + b"data: partial"))
    assert [e.raw for e in got] == events
    assert [e.data for e in got[:2]] == ['{"n": 0}', '{"n": 1}']
    assert splitter.rest() == b"data: partial"
    assert [e.raw for e in splitter.feed(b"\r\n\r\n")] == [b"data: partial\r\n\r\n"]
    assert splitter.rest() == b""
