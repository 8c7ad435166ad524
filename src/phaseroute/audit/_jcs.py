"""RFC 8785 (JCS) canonical JSON: orjson's encoder where it provably agrees.

The `rfc8785` package is the reference but is pure Python (~80 µs for a record). For the
values records are made of, ``orjson.dumps(value, option=OPT_SORT_KEYS)`` writes the same
bytes, because on those values the two agree rule by rule:

- strings: both escape exactly ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and other controls
  below U+0020 as ``\\u00xx`` (lower-case hex), and write everything else as UTF-8; a lone
  surrogate cannot be UTF-8 encoded (orjson refuses it) and goes to `rfc8785`, which refuses
  it too;
- object keys: JCS sorts by UTF-16 code units, orjson by UTF-8 bytes (code points); the
  orders are the same when no key of the object holds a character at or above U+D800 (one
  code unit per character, equal to its code point). Other objects go to `rfc8785`;
- integers: the same decimal digits, within JCS's range of ±(2**53 - 1) (outside: `rfc8785`,
  which refuses them);
- floats: both write the shortest digits that round-trip; where ``repr`` uses no exponent and
  the value is not integral they write the same text. Integral floats below 1e16 are
  written as the integer (``1.0`` → ``1``, ``-0.0`` → ``0``), which is what JCS writes;
  anything else (exponents, NaN, infinities) goes to `rfc8785`;
- ``true``, ``false``, ``null``, lists, tuples and dicts (exact types only; subclasses go to
  `rfc8785`).

A property test holds the fast path to ``rfc8785.dumps`` on every value shape it accepts.
The standard library's C encoder agrees on the same rules (it was the fast path before);
orjson writes a 100 kB request about 12 times faster.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

_INT_MIN = -(2**53) + 1
_INT_MAX = 2**53 - 1
_FIRST_SURROGATE = "\ud800"
_AS_IS = frozenset({str, bool, type(None)})

_SORTED = orjson.OPT_SORT_KEYS


class _NotPlain(Exception):
    """The value holds something the fast path does not handle; `rfc8785` decides."""


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON bytes of `value`: the fast path, else `rfc8785`."""
    fast = fast_canonical(value)
    return fast if fast is not None else rfc8785.dumps(value)


def fast_canonical(value: Any) -> bytes | None:
    """The JCS bytes of `value` via orjson, or None if it needs `rfc8785`."""
    try:
        return orjson.dumps(_plain(value), option=_SORTED)
    except (_NotPlain, orjson.JSONEncodeError):
        return None


def _plain(value: Any) -> Any:
    """`value` with integral floats as ints, or _NotPlain if the stdlib might differ."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
        raise _NotPlain
    if kind is float:
        text = repr(value)
        if "e" in text or "n" in text:  # an exponent, or nan / inf
            raise _NotPlain
        return int(value) if text.endswith(".0") else value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) < _FIRST_SURROGATE):
                raise _NotPlain
            out[key] = item if type(item) in _AS_IS else _plain(item)
        return out
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    raise _NotPlain
