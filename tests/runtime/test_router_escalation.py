"""The escalation cascade and the validators, and the plan/execute helper."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from runtime_policies import FOUR_MODELS, write_policy

from phaseroute.errors import Overloaded, PolicyError, ValidationFailed
from phaseroute.policy import load_plan
from phaseroute.policy._schema import (
    CallableValidator,
    ConfidenceValidator,
    JsonSchemaValidator,
    RegexValidator,
)
from phaseroute.providers._base import CompletionRequest
from phaseroute.runtime import (
    RetryPolicy,
    Router,
    aplan_and_execute,
    build_validator,
    parse_steps,
    plan_and_execute,
)
from phaseroute.testing.fake import FakeProvider, MemoryAuditTrail

MSG = [{"role": "user", "content": "screen this alert"}]
GOOD = json.dumps({"decision": "approve"})
BY_MODEL = {
    "claude-haiku-4-5": "I think approve",
    "claude-sonnet-4-5": "```json\n" + GOOD + "\n```",
    "claude-opus-4-1": GOOD,
}


def reply_by_model(answers: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda request: answers.get(request.model, GOOD)


def router_for(tmp_path: Path, main: FakeProvider, text: str = FOUR_MODELS) -> Router:
    plan = load_plan(write_policy(tmp_path, text))
    return Router(plan, {"main": main, "backup": FakeProvider("backup")}, audit=MemoryAuditTrail())


def test_a_failed_validation_escalates_one_tier_and_records_why(tmp_path: Path) -> None:
    router = router_for(tmp_path, FakeProvider("main", reply=reply_by_model(BY_MODEL)))
    result = router.complete("wf", "screen", MSG)
    assert result.model == "medium"
    assert result.tier == "standard"
    assert len(result.escalations) == 1
    step = result.escalations[0]
    assert (step.from_model, step.to_model, step.to_tier) == ("small", "medium", "standard")
    assert step.reason.startswith("not JSON")
    assert result.validation is not None
    assert result.validation.ok
    assert result.total_usage.output_tokens == step.usage.output_tokens + result.usage.output_tokens
    assert result.raise_for_validation() is result


def test_escalation_is_bounded_by_max_steps_and_reports_the_last_failure(tmp_path: Path) -> None:
    bad = dict.fromkeys(BY_MODEL, "not json")
    text = FOUR_MODELS.replace("max_steps: 2", "max_steps: 1")
    router = router_for(tmp_path, FakeProvider("main", reply=reply_by_model(bad)), text)
    result = router.complete("wf", "screen", MSG)
    assert [e.to_model for e in result.escalations] == ["medium"]
    assert result.model == "medium"
    assert result.validation is not None
    assert not result.validation.ok
    with pytest.raises(ValidationFailed, match=r"wf/screen: the answer of 'medium'"):
        result.raise_for_validation()


def test_escalation_climbs_to_the_top_and_stops_there(tmp_path: Path) -> None:
    bad = dict.fromkeys(BY_MODEL, "{}")
    router = router_for(tmp_path, FakeProvider("main", reply=reply_by_model(bad)))
    result = router.complete("wf", "screen", MSG)
    assert [e.to_tier for e in result.escalations] == ["standard", "frontier"]
    assert "required property" in result.escalations[0].reason
    assert result.validation is not None
    assert not result.validation.ok


def test_escalation_to_an_unavailable_tier_returns_the_answer_marked_failed(tmp_path: Path) -> None:
    def fault(request: CompletionRequest) -> Exception | None:
        return None if request.model == "claude-haiku-4-5" else Overloaded("busy")

    plan = load_plan(write_policy(tmp_path))
    providers = {
        "main": FakeProvider("main", reply="nope", faults=fault),
        "backup": FakeProvider("backup", faults=fault),
    }
    router = Router(plan, providers, retry=RetryPolicy(max_attempts=1))
    result = router.complete("wf", "screen", MSG)
    assert result.model == "small"
    assert result.escalations == ()
    assert result.validation is not None
    assert not result.validation.ok
    assert "escalation unavailable" in result.validation.reason


def test_async_escalation(tmp_path: Path) -> None:
    router = router_for(tmp_path, FakeProvider("main", reply=reply_by_model(BY_MODEL)))
    result = asyncio.run(router.acomplete("wf", "screen", MSG))
    assert result.model == "medium"
    assert len(result.escalations) == 1


def test_validators() -> None:
    regex = build_validator(RegexValidator(type="regex", pattern=r"^(approve|reject)$"), "p")
    assert regex("approve").ok
    assert not regex("maybe").ok
    conf = build_validator(ConfidenceValidator(type="confidence", min=0.8), "p")
    assert conf("answer: x\nconfidence: 0.9").ok
    assert not conf("confidence = 0.5").ok
    assert "below the minimum" in conf("confidence=0.5").reason
    assert not conf("no number").ok
    schema = JsonSchemaValidator.model_validate(
        {"type": "json_schema", "schema": {"type": "array"}}
    )
    check = build_validator(schema, "p")
    assert check("[1]").ok
    assert not check("{}").ok
    fn = build_validator(
        CallableValidator(type="callable", function="validators_for_tests:short"), "p"
    )
    assert fn("abc").ok
    assert fn("abcdefghijk").reason == "longer than 10"
    raising = build_validator(
        CallableValidator(type="callable", function="validators_for_tests:broken"), "p"
    )
    assert not raising("x").ok
    assert "raised ZeroDivisionError" in raising("x").reason


def test_a_missing_validator_function_is_a_policy_error() -> None:
    config = CallableValidator(type="callable", function="validators_for_tests:nothing")
    with pytest.raises(PolicyError, match="has no function 'nothing'"):
        build_validator(config, "workflows.wf.phases.screen")
    config = CallableValidator(type="callable", function="no_such_module_xyz:f")
    with pytest.raises(PolicyError, match="cannot import module 'no_such_module_xyz'"):
        build_validator(config, "workflows.wf.phases.screen")
    bad_regex = RegexValidator(type="regex", pattern="(")
    with pytest.raises(PolicyError, match=r"screen\.escalation\.validator\.pattern"):
        build_validator(bad_regex, "workflows.wf.phases.screen")


def test_parse_steps() -> None:
    text = "Here is the plan:\n1. Gather the facts\n   and the dates\n2) Classify\nStep 3: Decide"
    assert parse_steps(text) == ("Gather the facts and the dates", "Classify", "Decide")
    assert parse_steps("no plan at all") == ()


def plan_then_steps(request: CompletionRequest) -> str:
    content = request.messages[-1].content
    if "Carry out step" in content:
        return "did " + content.rsplit(": ", 1)[-1]
    return "1. collect evidence\n2. write the finding"


def test_plan_and_execute_routes_plan_and_steps_to_their_phases(tmp_path: Path) -> None:
    main = FakeProvider("main", reply=plan_then_steps)
    router = router_for(tmp_path, main)
    run = plan_and_execute(
        router, "wf", "review alert 7", planning_phase="review", execution_phase="draft"
    )
    assert run.plan.tier == "frontier"
    assert run.plan.decision.phase == "review"
    assert run.steps == ("collect evidence", "write the finding")
    assert [r.text for r in run.results] == ["did collect evidence", "did write the finding"]
    assert all(r.decision.phase == "draft" and r.tier == "standard" for r in run.results)
    second = main.requests[2].messages[-1].content
    assert "Result of step 1:\ndid collect evidence" in second
    assert len(run.calls) == 3
    again = asyncio.run(
        aplan_and_execute(router, "wf", "x", planning_phase="review", execution_phase="draft")
    )
    assert len(again.results) == 2


def test_plan_without_steps_fails_clearly(tmp_path: Path) -> None:
    router = router_for(tmp_path, FakeProvider("main", reply="I refuse"))
    with pytest.raises(ValidationFailed, match="no numbered steps"):
        plan_and_execute(router, "wf", "t", planning_phase="review", execution_phase="draft")
