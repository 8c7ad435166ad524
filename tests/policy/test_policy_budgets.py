"""The policy's `budgets:` section: strict shape, cross-checked names, hash unchanged without it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from policies import base, dump

from phaseroute.errors import PolicyError
from phaseroute.policy import compile_policy, load_policy_text

WF = "budgets.wf"


def _compile(budgets: Any) -> Any:
    data = base()
    data["budgets"] = budgets
    return compile_policy(load_policy_text(dump(data), file="policy.yaml"))


def test_budgets_are_read() -> None:
    plan = _compile({"wf": {"daily_usd": 20, "phases": {"decide": {"monthly_usd": "99.5"}}}})
    wf = plan.policy.budgets["wf"]
    assert wf.daily_usd == Decimal(20)
    assert wf.monthly_usd is None
    assert wf.phases["decide"].monthly_usd == Decimal("99.5")


def test_a_policy_without_budgets_keeps_its_hash() -> None:
    plain = compile_policy(load_policy_text(dump(base())))
    data = base()
    data["budgets"] = {}
    assert compile_policy(load_policy_text(dump(data))).policy_hash == plain.policy_hash
    assert _compile({"wf": {"daily_usd": 1}}).policy_hash != plain.policy_hash


@pytest.mark.parametrize(
    ("budgets", "path", "words"),
    [
        ({"nope": {"daily_usd": 1}}, "budgets.nope", "unknown workflow 'nope'"),
        ({"wf": {}}, "budgets.wf", "sets no limit"),
        ({"wf": {"phases": {"ghost": {"daily_usd": 1}}}}, f"{WF}.phases.ghost", "unknown phase"),
        ({"wf": {"phases": {"decide": {}}}}, "budgets.wf.phases.decide", "sets no limit"),
        ({"wf": {"daily_usd": 0}}, "budgets.wf.daily_usd", "greater than 0"),
        ({"wf": {"weekly_usd": 5}}, "budgets.wf.weekly_usd", "weekly_usd"),
        ({"wf": {"daily_usd": "lots"}}, "budgets.wf.daily_usd", "daily_usd"),
    ],
)
def test_each_budget_mistake_is_located(budgets: Any, path: str, words: str) -> None:
    with pytest.raises(PolicyError) as info:
        _compile(budgets)
    (problem,) = info.value.problems
    assert problem.path == path
    assert words in problem.render()
    assert problem.file == "policy.yaml"
    assert problem.line is not None
    assert problem.fix


def test_a_budget_over_a_phase_an_unpriced_model_can_serve_is_refused() -> None:
    data = base()
    data["models"]["small"]["id"] = "house-model-1"  # in no price catalogue
    data["budgets"] = {"wf": {"daily_usd": 20, "phases": {"interpret": {"daily_usd": 5}}}}
    with pytest.raises(PolicyError) as info:
        compile_policy(load_policy_text(dump(data), file="policy.yaml"))
    (problem,) = info.value.problems  # the audited phase stays on the top tier: priced
    assert problem.path == "budgets.wf"
    assert "cannot be enforced" in problem.message
    assert "'small'" in problem.message
    assert problem.fix.startswith("set models.small.price")
    assert problem.line
    data["models"]["small"]["price"] = {"input_per_mtok": 1, "output_per_mtok": 5}
    assert compile_policy(load_policy_text(dump(data))).policy.budgets


def test_an_unpriced_fallback_under_a_budget_is_a_warning() -> None:
    data = base()
    data["models"]["large"]["id"] = "house-model-2"  # the fallback of every lower tier
    data["budgets"] = {"wf": {"phases": {"screen": {"daily_usd": 5}}}}
    plan = compile_policy(load_policy_text(dump(data), file="policy.yaml"))
    (notice,) = [n for n in plan.notices if n.path == "budgets.wf.phases.screen"]
    assert "'large'" in notice.message
    assert "charged the estimate" in notice.message
