"""Recorded model outcomes: real answers of real models, already scored.

One JSON object per line::

    {"phase": "...", "item": "...", "prompt": "...",
     "scores": {"model-a": 1, "model-b": 0.5, ...},
     "responses": {"model-a": "...", ...}}          # optional

Any model names, any number of models (two or more), any numeric score scale. Every bad
row is reported with its file and line; nothing is dropped silently. The replay provider,
offline measurement and the replay benchmark all read this format through this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from phaseroute._jsonl import read_jsonl
from phaseroute.errors import Problem


@dataclass(frozen=True, slots=True)
class RecordedItem:
    """One recorded item: a prompt and every model's score (and maybe answer) on it."""

    phase: str
    item: str
    prompt: str
    scores: Mapping[str, float]
    responses: Mapping[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class RecordedOutcomes:
    """A whole recorded-outcome file, indexed by item id and grouped by phase."""

    path: Path
    items: tuple[RecordedItem, ...]
    models: tuple[str, ...]  # in order of first appearance
    score_min: float
    score_max: float

    by_id: Mapping[str, RecordedItem] = field(init=False, repr=False)
    phases: Mapping[str, tuple[RecordedItem, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[RecordedItem]] = {}
        for it in self.items:
            grouped.setdefault(it.phase, []).append(it)
        object.__setattr__(self, "by_id", MappingProxyType({it.item: it for it in self.items}))
        object.__setattr__(
            self, "phases", MappingProxyType({k: tuple(v) for k, v in grouped.items()})
        )

    def normalised(self, score: float) -> float:
        """Map a score from the file's scale onto 0..1 (min-max over the whole file)."""
        span = self.score_max - self.score_min
        if span <= 0:
            return 1.0
        return (score - self.score_min) / span

    @property
    def answers_recorded(self) -> int:
        """How many (item, model) answers carry their text (the optional ``responses``)."""
        return sum(len(it.responses) for it in self.items)

    def __iter__(self) -> Iterator[RecordedItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _row(obj: object, file: str, line: int) -> tuple[RecordedItem | None, list[Problem]]:
    def bad(message: str, path: str | None = None, fix: str | None = None) -> Problem:
        return Problem(message, file=file, line=line, path=path, fix=fix)

    if not isinstance(obj, dict):
        return None, [bad("each line must be a JSON object", fix="write one object per line")]
    problems: list[Problem] = []
    for key in ("phase", "item", "prompt"):
        if not isinstance(obj.get(key), str) or (key != "prompt" and not obj.get(key)):
            problems.append(
                bad(f"{key!r} must be a non-empty string", key, f"add a string {key!r}")
            )
    unknown = set(obj) - {"phase", "item", "prompt", "scores", "responses"}
    if unknown:
        problems.append(
            bad(
                f"unknown key(s) {', '.join(sorted(unknown))}",
                sorted(unknown)[0],
                "allowed: phase, item, prompt, scores, responses",
            )
        )
    scores = obj.get("scores")
    clean: dict[str, float] = {}
    if not isinstance(scores, dict) or len(scores) < 2:
        problems.append(
            bad(
                "'scores' must map two or more model names to numbers",
                "scores",
                'e.g. "scores": {"model-a": 1, "model-b": 0}',
            )
        )
    else:
        for model, value in scores.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                problems.append(bad(f"score {value!r} is not a finite number", f"scores.{model}"))
            else:
                clean[str(model)] = float(value)
    responses = obj.get("responses", {})
    if not isinstance(responses, dict) or not all(isinstance(v, str) for v in responses.values()):
        problems.append(bad("'responses' must map model names to answer text", "responses"))
        responses = {}
    if problems:
        return None, problems
    return (
        RecordedItem(
            phase=obj["phase"],
            item=obj["item"],
            prompt=obj["prompt"],
            scores=MappingProxyType(clean),
            responses=MappingProxyType({str(k): v for k, v in responses.items()}),
            line=line,
        ),
        [],
    )


def read_recorded(path: str | Path) -> RecordedOutcomes:
    """Read and check a recorded-outcome JSONL file; raise `DatasetError` on any bad row."""
    _, items = read_jsonl(
        path, _row, lambda it: it.item, what="recorded outcomes", id_field="item id"
    )
    models: dict[str, None] = {}
    for it in items:
        models.update(dict.fromkeys(it.scores))
    all_scores = [s for it in items for s in it.scores.values()]
    return RecordedOutcomes(
        path=Path(path),
        items=tuple(items),
        models=tuple(models),
        score_min=min(all_scores),
        score_max=max(all_scores),
    )
