"""The fast canonical encoder writes exactly what `rfc8785.dumps` writes, or steps aside."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pytest
import rfc8785
from audit_samples import sample_entry
from hypothesis import given, settings
from hypothesis import strategies as st

from phaseroute.audit._codec import encode_record
from phaseroute.audit._jcs import canonical, fast_canonical

T = "2026-11-26T10:00:00.000000Z"

# Keys and strings across the planes: ASCII, controls, BMP below and above the surrogate
# range (where UTF-16 and code-point order differ), astral characters.
_chars = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.characters(min_codepoint=0x80, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFF, exclude_categories=("Cs",)),
    st.characters(min_codepoint=0x10000),
)
_text = st.text(_chars, max_size=12)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-7, 1e-6, 1e16, 1e21, 1e-4, 123.5, 5e-324]),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(_text, inner, max_size=5),
    ),
    max_leaves=25,
)

# The shapes records and requests are made of: the fast path must take these.
_ascii = st.text(st.characters(max_codepoint=0x7F), max_size=12)
_record_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(min_value=1e-4, max_value=1e15),
    st.floats(min_value=-1e15, max_value=-1e-4),
    st.text(max_size=40),
)
_record_values = st.recursive(
    _record_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_ascii, inner, max_size=5)
    ),
    max_leaves=25,
)


def _rfc8785_or_error(value: Any) -> bytes | type[Exception]:
    try:
        return bytes(rfc8785.dumps(value))
    except ValueError as e:  # CanonicalizationError, or UnicodeEncodeError for a surrogate
        return type(e)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_the_fast_path_equals_rfc8785_whenever_it_answers(value: Any) -> None:
    fast = fast_canonical(value)
    if fast is not None:
        assert fast == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_canonical_always_equals_rfc8785(value: Any) -> None:
    expected = _rfc8785_or_error(value)
    if isinstance(expected, bytes):
        assert canonical(value) == expected
    else:
        with pytest.raises(expected):
            canonical(value)


@settings(max_examples=200, deadline=None)
@given(_record_values)
def test_record_shaped_values_take_the_fast_path(value: Any) -> None:
    fast = fast_canonical(value)
    assert fast is not None
    assert fast == rfc8785.dumps(value)


def test_every_float_the_fast_path_takes_matches_the_rfc() -> None:
    # The fast path writes floats with orjson's shortest round-trip digits; JCS with
    # ECMAScript's. Random bit patterns and values across the decimal range it accepts.
    rng = random.Random(2026)
    taken = 0
    for _ in range(20_000):
        (bits,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        spread = rng.uniform(-1, 1) * 10.0 ** rng.randint(-4, 15)
        for value in (bits, rng.uniform(-1e16, 1e16), spread, round(spread, rng.randint(0, 9))):
            fast = fast_canonical(value)
            if fast is not None:
                taken += 1
                assert fast == rfc8785.dumps(value), repr(value)
    assert taken > 50_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, b"1"),
        (-0.0, b"0"),
        (1.25, b"1.25"),
        (1e-7, b"1e-7"),
        (1e21, b"1e+21"),
        (1e16, b"10000000000000000"),
        ({"\ue000": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\ue000":1}'.encode()),
        ('\x00\x1f\x7f\u2028"\\', b'"\\u0000\\u001f\x7f\xe2\x80\xa8\\"\\\\"'),
    ],
)
def test_edge_values_match_the_rfc(value: Any, expected: bytes) -> None:
    assert canonical(value) == expected == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, "\ud800", {"k": float("nan")}, {"\ud800": 1}])
def test_values_jcs_refuses_are_refused(value: Any) -> None:
    assert fast_canonical(value) is None
    with pytest.raises(ValueError, match=r"safe integer|non-UTF-8|not representable|surrogates"):
        canonical(value)


def test_record_bodies_and_requests_take_the_fast_path() -> None:
    for entry in (sample_entry(1), sample_entry(2, latency_s=0.000123, redact=True)):
        encoded = encode_record(entry, T)
        body = json.loads(encoded.body)
        assert fast_canonical(body) == encoded.body.encode() == rfc8785.dumps(body)
        assert fast_canonical(dict(entry.request)) == rfc8785.dumps(dict(entry.request))
