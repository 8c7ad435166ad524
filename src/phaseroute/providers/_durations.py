"""Durations given in code (timeouts, delays), checked where they are given.

A bad duration fails at construction with one message naming the field, never later as a
misleading connection error or a raw `ValueError` from deep inside a sleep or an SDK.
"""

from __future__ import annotations

import math

from phaseroute.errors import RequestError


def check_seconds(
    name: str, value: object, *, allow_zero: bool = False, fix: str | None = None
) -> float:
    """`value` as seconds: a finite number, > 0 (>= 0 with `allow_zero`), else `RequestError`."""
    want = "a finite number of seconds " + (">= 0" if allow_zero else "> 0")
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        number = float(value)  # type: ignore[arg-type]
        ok = math.isfinite(number) and (number >= 0 if allow_zero else number > 0)
        if ok:
            return number
    extra = f" ({fix})" if fix else ""
    raise RequestError(f"{name} must be {want}, got {value!r}{extra}")
