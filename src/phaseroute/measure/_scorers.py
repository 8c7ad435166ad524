"""Scorers: how good one answer is, as a number in 0..1 with the reason for it.

One class per ``quality.scorer.type`` of the policy. The judge scorer asks a model through
the same caller as the measured calls, so its calls are routed, cached and accounted like
any other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import jsonschema
import jsonschema.exceptions

from phaseroute.errors import DatasetError, PolicyError, Problem
from phaseroute.measure._dataset import LabelledItem
from phaseroute.policy._schema import (
    ExactMatchScorer,
    JsonSchemaScorer,
    JudgeScorer,
    LabelScorer,
    NumericScorer,
    QualityConfig,
    RegexScorer,
)
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Message

# Makes a located policy problem for a key below the scorer's config: (path, message, fix).
Locate = Callable[[tuple[str, ...], str, str], Problem]


@dataclass(frozen=True, slots=True)
class Score:
    """One answer's score in 0..1, why, and (label scorer) the label it predicted."""

    value: float
    reason: str
    predicted: str | None = None


class ModelCaller(Protocol):
    """Sends a request to one catalogue model; `purpose` names the call for accounting."""

    def call_model(
        self, model_name: str, request: CompletionRequest, *, purpose: str
    ) -> CompletionResponse: ...


class Scorer(Protocol):
    """Scores an answer to one labelled item."""

    def requirement(self, item: LabelledItem) -> str | None:
        """What `item` lacks for this scorer (a message), or None when it can be scored."""
        ...

    def score(self, item: LabelledItem, answer: str) -> Score: ...


def _norm(text: str, case_sensitive: bool = False) -> str:
    out = " ".join(text.split())
    return out if case_sensitive else out.casefold()


def _expected_text(item: LabelledItem) -> str | None:
    if item.expected is None:
        return None
    if isinstance(item.expected, float) and item.expected.is_integer():
        return str(int(item.expected))
    return str(item.expected)


class ExactMatch:
    """1 when the answer equals the expected output, or else the label (whitespace-normalised)."""

    def __init__(self, config: ExactMatchScorer) -> None:
        self.case_sensitive = config.case_sensitive

    def requirement(self, item: LabelledItem) -> str | None:
        if item.expected is None and item.label is None:
            return "exact_match needs 'expected' (or 'label')"
        return None

    def score(self, item: LabelledItem, answer: str) -> Score:
        want = _expected_text(item) or item.label or ""
        if _norm(answer, self.case_sensitive) == _norm(want, self.case_sensitive):
            return Score(1.0, "matches the expected output")
        shown = answer.strip()[:60]
        return Score(0.0, f"expected {want[:60]!r}, got {shown!r}")


class LabelMatch:
    """1 when the answer names the item's label; the predicted label feeds recall.

    With a label list the answer may be a sentence: the label it mentions (as a whole
    word) is the prediction; mentioning several is ambiguous and scores 0. Without a list
    the answer's first line is the prediction.
    """

    def __init__(self, config: LabelScorer) -> None:
        self.labels = tuple(config.labels or ())
        self.patterns = [
            (label, re.compile(rf"(?<!\w){re.escape(label)}(?!\w)", re.IGNORECASE))
            for label in self.labels
        ]

    def requirement(self, item: LabelledItem) -> str | None:
        if item.label is None:
            return "the label scorer needs 'label'"
        if self.labels and item.label.casefold() not in {x.casefold() for x in self.labels}:
            return f"label {item.label!r} is not one of the scorer's labels {list(self.labels)}"
        return None

    def predict(self, answer: str) -> tuple[str | None, str]:
        stripped = answer.strip().strip(".!\"'` ").casefold()
        if not self.labels:
            first = stripped.splitlines()[0].strip() if stripped else ""
            return (first or None), "first line of the answer"
        for label in self.labels:
            if stripped == label.casefold():
                return label, "the answer is the label"
        found = [label for label, pat in self.patterns if pat.search(answer)]
        if len(found) == 1:
            return found[0], "the only label the answer mentions"
        if found:
            return None, f"ambiguous: the answer mentions {', '.join(found)}"
        return None, "the answer names none of the labels"

    def score(self, item: LabelledItem, answer: str) -> Score:
        predicted, how = self.predict(answer)
        want = item.label or ""
        if predicted is not None and predicted.casefold() == want.casefold():
            return Score(1.0, f"predicted {predicted!r} ({how})", predicted)
        got = repr(predicted) if predicted is not None else "no label"
        return Score(0.0, f"expected {want!r}, got {got} ({how})", predicted)


class RegexMatch:
    """1 when the answer contains a match of the pattern."""

    def __init__(self, config: RegexScorer, where: Locate) -> None:
        try:
            self.pattern = re.compile(config.pattern)
        except re.error as e:
            raise PolicyError(
                [where(("pattern",), f"invalid regex: {e}", "fix the pattern")]
            ) from None

    def requirement(self, item: LabelledItem) -> str | None:
        return None

    def score(self, item: LabelledItem, answer: str) -> Score:
        m = self.pattern.search(answer)
        if m:
            return Score(1.0, f"matches /{self.pattern.pattern}/ at {m.start()}")
        return Score(0.0, f"no match for /{self.pattern.pattern}/")


_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n```\s*$", re.DOTALL)


class JsonSchemaValid:
    """1 when the answer is JSON (optionally in a code fence) valid against the schema."""

    def __init__(self, config: JsonSchemaScorer, where: Locate) -> None:
        cls = jsonschema.validators.validator_for(config.json_schema)
        try:
            cls.check_schema(config.json_schema)
        except jsonschema.exceptions.SchemaError as e:
            raise PolicyError(
                [where(("schema",), f"invalid JSON schema: {e.message}", "fix the schema")]
            ) from None
        self.validator = cls(config.json_schema)

    def requirement(self, item: LabelledItem) -> str | None:
        return None

    def score(self, item: LabelledItem, answer: str) -> Score:
        text = answer.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            return Score(0.0, f"not JSON: {e.msg} at line {e.lineno}")
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(doc))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return Score(0.0, f"schema violation at {where}: {error.message}")
        return Score(1.0, "valid against the schema")


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


class NumericMatch:
    """1 when the first number in the answer is within tolerance of the expected number."""

    def __init__(self, config: NumericScorer) -> None:
        self.tolerance = config.tolerance
        self.relative = config.relative

    def requirement(self, item: LabelledItem) -> str | None:
        try:
            float(item.expected) if item.expected is not None else None
        except ValueError:
            return f"'expected' {item.expected!r} is not a number"
        return None if item.expected is not None else "the numeric scorer needs 'expected'"

    def score(self, item: LabelledItem, answer: str) -> Score:
        want = float(item.expected) if item.expected is not None else math.nan
        m = _NUMBER.search(answer)
        if m is None:
            return Score(0.0, "the answer has no number")
        got = float(m.group(0).replace(",", ""))
        allowed = self.tolerance * abs(want) if self.relative else self.tolerance
        if abs(got - want) <= allowed:
            return Score(1.0, f"{got:g} is within {allowed:g} of {want:g}")
        return Score(0.0, f"{got:g} is off {want:g} by {abs(got - want):g} (allowed {allowed:g})")


JUDGE_SYSTEM = (
    "You grade one answer against a rubric. Think briefly, then end with a line of the form "
    "'SCORE: n' where n is an integer from 1 (worst) to {scale} (best)."
)
_SCORE = re.compile(r"SCORE\s*[:=]\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


class Judge:
    """A model grades the answer on the rubric; 1..scale is mapped onto 0..1."""

    def __init__(
        self,
        config: JudgeScorer,
        caller: ModelCaller,
        model_name: str,
        model_id: str,
        purpose: str = "judge",
    ) -> None:
        self.purpose = purpose
        self.rubric = config.rubric
        self.scale = config.scale
        self.caller = caller
        self.model_name = model_name
        self.model_id = model_id

    def requirement(self, item: LabelledItem) -> str | None:
        return None

    def request(self, item: LabelledItem, answer: str) -> CompletionRequest:
        task = "\n\n".join(f"[{m.role}]\n{m.content}" for m in item.messages)
        parts = [f"Rubric:\n{self.rubric}", f"Task given to the model:\n{task}"]
        if item.expected is not None:
            parts.append(f"Reference answer:\n{_expected_text(item)}")
        parts.append(f"Answer to grade:\n{answer}")
        return CompletionRequest(
            model=self.model_id,
            messages=(Message("user", "\n\n".join(parts)),),
            system=JUDGE_SYSTEM.format(scale=self.scale),
            max_tokens=512,
            temperature=0.0,
            metadata={"measure": "judge", "item": item.item},
        )

    def score(self, item: LabelledItem, answer: str) -> Score:
        reply = self.caller.call_model(
            self.model_name, self.request(item, answer), purpose=self.purpose
        ).text
        found = _SCORE.findall(reply)
        if not found:
            return Score(0.0, f"the judge ({self.model_name}) gave no 'SCORE: n' line")
        raw = float(found[-1])
        if not 1 <= raw <= self.scale:
            return Score(0.0, f"the judge's score {raw:g} is outside 1..{self.scale}")
        value = (raw - 1) / (self.scale - 1)
        return Score(value, f"judge {self.model_name}: {raw:g}/{self.scale}")


def build_scorer(
    quality: QualityConfig,
    *,
    where: Locate,
    caller: ModelCaller | None = None,
    judge_model: tuple[str, str] | None = None,
    purpose: str = "judge",
) -> Scorer:
    """The scorer a phase's ``quality`` asks for (default: label for recall, else exact match).

    `judge_model` is the (catalogue name, model id) that judges; `where` locates a key
    below the phase's ``quality.scorer`` in the policy file, for error messages.
    """
    config = quality.scorer
    if config is None:
        return (
            LabelMatch(LabelScorer(type="label"))
            if quality.metric == "recall"
            else ExactMatch(ExactMatchScorer(type="exact_match"))
        )
    if isinstance(config, ExactMatchScorer):
        return ExactMatch(config)
    if isinstance(config, LabelScorer):
        return LabelMatch(config)
    if isinstance(config, RegexScorer):
        return RegexMatch(config, where)
    if isinstance(config, JsonSchemaScorer):
        return JsonSchemaValid(config, where)
    if isinstance(config, NumericScorer):
        return NumericMatch(config)
    if caller is None or judge_model is None:
        raise PolicyError(
            [
                where(
                    (),
                    "the judge scorer needs a model to call, and this measurement has none",
                    "measure live (--data) so the judge can be called through the router",
                )
            ]
        )
    return Judge(config, caller, *judge_model, purpose=purpose)


def check_items(scorer: Scorer, items: Sequence[LabelledItem], file: str) -> None:
    """Raise one `DatasetError` listing every row the scorer cannot score."""
    problems = []
    for item in items:
        why = scorer.requirement(item)
        if why is not None:
            problems.append(Problem(why, file=file, line=item.line, fix="complete the row"))
    if problems:
        raise DatasetError(problems[:20])


def positive_items(items: Sequence[LabelledItem], positive_label: str) -> list[LabelledItem]:
    """The items whose label is the positive (risk) class: where recall is measured."""
    want = positive_label.casefold()
    return [it for it in items if (it.label or _expected_text(it) or "").casefold() == want]
