"""Labelled per-phase datasets for live measurement.

One JSON object per line::

    {"id": "case-17",                                   # optional; default "line-<n>"
     "messages": [{"role": "user", "content": "..."}],  # or "prompt": "..."
     "system": "...",                                   # optional
     "expected": "...",                                 # the reference answer, and/or
     "label": "suspicious",                             # the class (label scorer)
     "metadata": {"source": "..."}}                     # optional, kept with the item

Every bad row is reported with its file and line; nothing is dropped silently. The dataset's
SHA-256 (of the file's bytes) goes into the lock file so stale evidence can be detected.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from phaseroute._jsonl import read_jsonl
from phaseroute.errors import Problem
from phaseroute.providers._base import Message

_KEYS = {"id", "messages", "prompt", "system", "expected", "label", "metadata"}


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One input with what a good answer is: an expected output, a label, or both."""

    item: str
    messages: tuple[Message, ...]
    system: str | None = None
    expected: str | float | None = None
    label: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class LabelledDataset:
    """A whole labelled dataset file and the SHA-256 of its bytes."""

    path: Path
    items: tuple[LabelledItem, ...]
    sha256: str

    def __iter__(self) -> Iterator[LabelledItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _messages(value: object) -> tuple[tuple[Message, ...] | None, str | None]:
    if not isinstance(value, list) or not value:
        return None, "'messages' must be a non-empty list of {role, content} objects"
    out: list[Message] = []
    for i, m in enumerate(value):
        if (
            not isinstance(m, dict)
            or set(m) != {"role", "content"}
            or m["role"] not in ("user", "assistant")
            or not isinstance(m["content"], str)
        ):
            return None, (
                f"messages[{i}] must be {{'role': 'user'|'assistant', 'content': '...'}} "
                "(a system prompt goes in 'system')"
            )
        out.append(Message(m["role"], m["content"]))
    return tuple(out), None


def _row(obj: object, file: str, line: int) -> tuple[LabelledItem | None, list[Problem]]:
    def bad(message: str, path: str | None = None, fix: str | None = None) -> Problem:
        return Problem(message, file=file, line=line, path=path, fix=fix)

    if not isinstance(obj, dict):
        return None, [bad("each line must be a JSON object", fix="write one object per line")]
    problems: list[Problem] = []
    unknown = set(obj) - _KEYS
    if unknown:
        problems.append(
            bad(
                f"unknown key(s) {', '.join(sorted(unknown))}",
                sorted(unknown)[0],
                f"allowed: {', '.join(sorted(_KEYS))}",
            )
        )
    messages: tuple[Message, ...] | None = None
    if ("messages" in obj) == ("prompt" in obj):
        problems.append(
            bad("give exactly one of 'messages' or 'prompt'", fix="the input the model sees")
        )
    elif "prompt" in obj:
        if not isinstance(obj["prompt"], str) or not obj["prompt"]:
            problems.append(bad("'prompt' must be a non-empty string", "prompt"))
        else:
            messages = (Message("user", obj["prompt"]),)
    else:
        messages, why = _messages(obj["messages"])
        if why:
            problems.append(bad(why, "messages"))
    expected = obj.get("expected")
    if expected is not None and (
        isinstance(expected, bool)
        or not isinstance(expected, str | int | float)
        or (isinstance(expected, float) and not math.isfinite(expected))
    ):
        problems.append(bad("'expected' must be a string or a finite number", "expected"))
    label = obj.get("label")
    if label is not None and (not isinstance(label, str) or not label):
        problems.append(bad("'label' must be a non-empty string", "label"))
    if expected is None and label is None:
        problems.append(
            bad(
                "the row says nothing about a good answer",
                fix="add 'expected' (the reference output) or 'label' (the class)",
            )
        )
    for key in ("id", "system"):
        if key in obj and (not isinstance(obj[key], str) or not obj[key]):
            problems.append(bad(f"{key!r} must be a non-empty string", key))
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        problems.append(bad("'metadata' must be an object", "metadata"))
    if problems or messages is None:
        return None, problems
    return (
        LabelledItem(
            item=obj.get("id", f"line-{line}"),
            messages=messages,
            system=obj.get("system"),
            expected=float(expected) if isinstance(expected, int) else expected,
            label=label,
            metadata=MappingProxyType(dict(metadata)),
            line=line,
        ),
        [],
    )


def read_labelled(path: str | Path) -> LabelledDataset:
    """Read and check a labelled JSONL dataset; raise `DatasetError` on any bad row."""
    data, items = read_jsonl(path, _row, lambda it: it.item, what="dataset", id_field="id")
    return LabelledDataset(
        path=Path(path), items=tuple(items), sha256=hashlib.sha256(data).hexdigest()
    )
