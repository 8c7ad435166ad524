"""Scorers: a 0..1 score with a reason for each scorer type of the policy schema."""

from __future__ import annotations

import pytest

from phaseroute.errors import DatasetError, PolicyError, Problem
from phaseroute.measure import LabelledItem, build_scorer
from phaseroute.measure._scorers import check_items, positive_items
from phaseroute.policy._schema import QualityConfig
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Message, Usage


def item(expected: str | float | None = None, label: str | None = None) -> LabelledItem:
    return LabelledItem("i1", (Message("user", "q"),), expected=expected, label=label, line=7)


def locate(path: tuple[str, ...], message: str, fix: str) -> Problem:
    return Problem(message, file="p.yaml", line=3, path=".".join(("scorer", *path)), fix=fix)


def scorer(config: dict[str, object] | None, metric: str = "accuracy", **kw: object):  # type: ignore[no-untyped-def]
    quality = QualityConfig.model_validate({"metric": metric, "scorer": config})
    return build_scorer(quality, where=locate, **kw)  # type: ignore[arg-type]


def test_exact_match_normalises_whitespace_and_case() -> None:
    s = scorer({"type": "exact_match"})
    assert s.score(item("Close the alert"), "  close   the ALERT ").value == 1.0
    miss = s.score(item("close"), "investigate")
    assert miss.value == 0.0
    assert "expected 'close', got 'investigate'" in miss.reason
    strict = scorer({"type": "exact_match", "case_sensitive": True})
    assert strict.score(item("Close"), "close").value == 0.0


def test_label_scorer_finds_the_one_label_mentioned() -> None:
    s = scorer({"type": "label", "labels": ["risk", "clear"]})
    hit = s.score(item(label="risk"), "After review: RISK.")
    assert (hit.value, hit.predicted) == (1.0, "risk")
    assert s.score(item(label="risk"), "clear").value == 0.0
    ambiguous = s.score(item(label="risk"), "risk or clear, hard to say")
    assert ambiguous.value == 0.0
    assert "ambiguous" in ambiguous.reason
    assert "none of the labels" in s.score(item(label="risk"), "no idea").reason
    # "risky" is not the label "risk": whole words only
    assert s.score(item(label="risk"), "risky").value == 0.0


def test_label_is_the_default_scorer_for_recall_and_uses_the_first_line() -> None:
    s = scorer(None, metric="recall")
    assert s.score(item(label="Risk"), "risk\nbecause of the wire pattern").value == 1.0


def test_recall_is_measured_on_positive_items() -> None:
    items = [item(label="risk"), item(label="clear"), item(label="RISK")]
    assert len(positive_items(items, "risk")) == 2


def test_regex_and_invalid_regex() -> None:
    s = scorer({"type": "regex", "pattern": r"^\d{4}-\d{2}$"})
    assert s.score(item(), "2024-05").value == 1.0
    assert s.score(item(), "May 2024").value == 0.0
    with pytest.raises(PolicyError) as err:
        scorer({"type": "regex", "pattern": "(unclosed"})
    assert err.value.problems[0].path == "scorer.pattern"
    assert err.value.problems[0].line == 3


def test_json_schema_validity_with_code_fence() -> None:
    s = scorer(
        {
            "type": "json_schema",
            "schema": {"type": "object", "required": ["decision"], "properties": {}},
        }
    )
    assert s.score(item(), '```json\n{"decision": "close"}\n```').value == 1.0
    missing = s.score(item(), '{"other": 1}')
    assert missing.value == 0.0
    assert "'decision' is a required property" in missing.reason
    assert "not JSON" in s.score(item(), "close it").reason
    with pytest.raises(PolicyError, match="invalid JSON schema"):
        scorer({"type": "json_schema", "schema": {"type": "no-such-type"}})


def test_numeric_tolerance_absolute_and_relative() -> None:
    s = scorer({"type": "numeric", "tolerance": 0.5})
    assert s.score(item(10.0), "The total is 10.4 EUR").value == 1.0
    assert s.score(item(10.0), "about 11").value == 0.0
    assert s.score(item(1000.0), "1,000").value == 1.0
    rel = scorer({"type": "numeric", "tolerance": 0.01, "relative": True})
    assert rel.score(item(200.0), "201.9").value == 1.0
    assert rel.score(item(200.0), "203").value == 0.0
    assert "no number" in rel.score(item(200.0), "unknown").reason


def test_scorer_requirements_name_the_rows() -> None:
    s = scorer({"type": "numeric"})
    with pytest.raises(DatasetError) as err:
        check_items(s, [item(label="x"), item("abc")], "d.jsonl")
    assert [p.line for p in err.value.problems] == [7, 7]
    assert "needs 'expected'" in err.value.problems[0].message
    assert "not a number" in err.value.problems[1].message


class Judge:
    """A judge model that always answers the same text; records what it was asked."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[tuple[str, CompletionRequest, str]] = []

    def call_model(
        self, model_name: str, request: CompletionRequest, *, purpose: str
    ) -> CompletionResponse:
        self.calls.append((model_name, request, purpose))
        return CompletionResponse(self.reply, request.model, request.model, "fake", Usage())


def test_judge_maps_one_to_scale_onto_zero_to_one() -> None:
    judge = Judge("Clear and complete.\nSCORE: 4")
    s = scorer(
        {"type": "judge", "rubric": "Is the narrative complete?", "scale": 5},
        metric="score",
        caller=judge,
        judge_model=("large", "claude-opus-5-5"),
        purpose="wf/draft:judge",
    )
    result = s.score(item("the reference narrative"), "my narrative")
    assert result.value == pytest.approx(0.75)
    assert "4/5" in result.reason
    name, request, purpose = judge.calls[0]
    assert (name, request.model, purpose) == ("large", "claude-opus-5-5", "wf/draft:judge")
    text = request.messages[0].content
    assert "Is the narrative complete?" in text
    assert "the reference narrative" in text
    assert "my narrative" in text


@pytest.mark.parametrize(
    ("reply", "fragment"), [("looks fine", "no 'SCORE: n' line"), ("SCORE: 9", "outside 1..5")]
)
def test_judge_without_a_usable_score_scores_zero_with_the_reason(
    reply: str, fragment: str
) -> None:
    s = scorer(
        {"type": "judge", "rubric": "r", "scale": 5},
        caller=Judge(reply),
        judge_model=("large", "x"),
    )
    result = s.score(item(), "answer")
    assert result.value == 0.0
    assert fragment in result.reason


def test_judge_needs_a_caller() -> None:
    with pytest.raises(PolicyError, match="needs a model to call"):
        scorer({"type": "judge", "rubric": "r"})
