"""Gateway model aliases in the policy: validated shape, located lint errors, stable hash."""

from __future__ import annotations

import pytest
from policies import base, dump

from phaseroute.errors import PolicyError, Problem
from phaseroute.policy import compile_policy, load_policy_text


def _problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(PolicyError) as info:
        compile_policy(load_policy_text(text, file="policy.yaml"))
    return info.value.problems


def test_aliases_compile_and_are_kept() -> None:
    data = base()
    data["aliases"] = {"claude-opus-*": "wf/decide", "claude-haiku-*": "wf/screen"}
    plan = compile_policy(load_policy_text(dump(data)))
    assert plan.policy.aliases == {"claude-opus-*": "wf/decide", "claude-haiku-*": "wf/screen"}


@pytest.mark.parametrize(
    ("target", "words", "fix"),
    [
        ("wf/nope", "unknown phase 'nope'", "wf/screen"),
        ("other/decide", "unknown workflow 'other'", "use one of the workflows: wf"),
    ],
)
def test_alias_to_unknown_phase_is_a_located_error(target: str, words: str, fix: str) -> None:
    data = base()
    data["aliases"] = {"claude-opus-*": target}
    text = dump(data)
    (p,) = _problems(text)
    assert p.path == "aliases.claude-opus-*"
    assert words in p.message
    assert p.fix is not None
    assert fix in p.fix
    assert p.line is not None
    assert "claude-opus-*" in text.splitlines()[p.line - 1]


def test_alias_target_must_be_workflow_slash_phase() -> None:
    data = base()
    data["aliases"] = {"claude-opus-*": "decide"}
    (p,) = _problems(dump(data))
    assert p.path == "aliases.claude-opus-*"
    assert p.fix is not None
    assert "WORKFLOW/PHASE" in p.fix


def test_aliases_change_the_hash_and_their_absence_does_not() -> None:
    without = compile_policy(load_policy_text(dump(base()))).policy_hash
    empty = base()
    empty["aliases"] = {}
    assert compile_policy(load_policy_text(dump(empty))).policy_hash == without
    data = base()
    data["aliases"] = {"claude-opus-*": "wf/decide"}
    assert compile_policy(load_policy_text(dump(data))).policy_hash != without
