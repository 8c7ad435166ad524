"""Property tests: any YAML document yields a plan or a clean PolicyError, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policies import base, dump

from phaseroute.errors import PolicyError, Problem
from phaseroute.policy import compile_policy, load_policy_text

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["top", "cheap", "mid", "screen", "decide", "human", "small", "env:X"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4),
    ),
    max_leaves=10,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _outcome(text: str) -> None:
    """A plan with decisions, or a PolicyError whose every problem is located and worded."""
    problems: tuple[Problem, ...] = ()
    try:
        plan = compile_policy(load_policy_text(text, file="fuzz.yaml"))
    except PolicyError as e:
        problems = e.problems
        assert problems
    else:
        assert plan.decisions
    for p in problems:
        assert p.file == "fuzz.yaml"
        assert p.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _outcome(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_arbitrary_mutations_of_a_valid_policy(data: st.DataObject) -> None:
    doc = base()
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=8))] = data.draw(values)
    _outcome(dump(doc))


@settings(max_examples=200, deadline=None)
@given(values)
def test_arbitrary_documents(doc: Any) -> None:
    _outcome(dump(doc))
