"""Validator functions named by `module:function` in the escalation tests."""

from __future__ import annotations


def short(text: str) -> tuple[bool, str]:
    return (len(text) <= 10, "longer than 10" if len(text) > 10 else "short enough")


def broken(text: str) -> bool:
    return len(text) / 0 > 1
