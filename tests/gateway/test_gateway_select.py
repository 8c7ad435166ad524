"""Phase selection: headers, then WORKFLOW/PHASE, then aliases in the policy's order."""

from __future__ import annotations

import pytest

from phaseroute.errors import ModelNotFound, RequestError
from phaseroute.gateway import PhaseSelector
from phaseroute.policy import compile_policy, load_policy_text

POLICY = """
version: 1
tiers: [cheap, top]
providers: {p: {type: anthropic, api_key: env:KEY}}
models:
  small: {provider: p, id: claude-haiku-5-5, tier: cheap}
  large: {provider: p, id: claude-opus-5-5, tier: top}
controls: {tests: {description: tests}}
workflows:
  coding:
    phases:
      planning: {kind: planning, catastrophic_error: missed_risk}
      execution: {kind: execution, catastrophic_error: throughput, caught_by: tests}
aliases:
  claude-opus-5-5-fast: coding/execution
  "claude-opus-*": coding/planning
  "claude-*": coding/execution
"""


@pytest.fixture(scope="module")
def selector() -> PhaseSelector:
    return PhaseSelector(compile_policy(load_policy_text(POLICY)))


@pytest.mark.parametrize(
    ("model", "headers", "expected", "via"),
    [
        ("coding/planning", {}, "coding/planning", "model"),
        ("claude-opus-5-5", {}, "coding/planning", "alias"),
        ("claude-opus-5-5-fast", {}, "coding/execution", "alias"),  # an exact alias first
        ("claude-haiku-9", {}, "coding/execution", "alias"),
        (
            "claude-opus-5-5",
            {"x-phaseroute-workflow": "coding", "x-phaseroute-phase": "execution"},
            "coding/execution",
            "header",
        ),
    ],
)
def test_selection_order(
    selector: PhaseSelector, model: str, headers: dict[str, str], expected: str, via: str
) -> None:
    target = selector.select(model, headers)
    assert (target.name, target.via) == (expected, via)


def test_an_unknown_name_lists_every_phase_and_alias(selector: PhaseSelector) -> None:
    with pytest.raises(ModelNotFound) as info:
        selector.select("gpt-5", {})
    assert info.value.status == 404
    for name in ("coding/planning", "coding/execution", "claude-opus-*", "claude-*"):
        assert name in str(info.value)


def test_a_missing_model_is_a_400(selector: PhaseSelector) -> None:
    with pytest.raises(RequestError, match="model: missing"):
        selector.select(None, {})
