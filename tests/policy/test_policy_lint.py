"""Every lint error and malformed-YAML case: one message naming file, line and path; exit 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from policies import base, dump, phase

from phaseroute.cli._app import run
from phaseroute.errors import PolicyError, Problem
from phaseroute.policy import compile_policy, load_policy_text

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[last] = value

    return apply


def _delete(path: str) -> Mutation:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        del node[last]

    return apply


PH = "workflows.wf.phases"

# (id, mutation, dotted path the message must name, words the message must contain,
#  text the reported line must contain)
CASES: list[tuple[str, Mutation, str, str, str]] = [
    (
        "unknown key",
        _set(f"{PH}.screen.kindd", "x"),
        f"{PH}.screen.kindd",
        "did you mean 'kind'",
        "kindd",
    ),
    (
        "wrong type",
        _set(f"{PH}.screen.volume", "lots"),
        f"{PH}.screen.volume",
        "expected an integer",
        "volume",
    ),
    (
        "missing catastrophic_error",
        _delete(f"{PH}.decide.catastrophic_error"),
        f"{PH}.decide.catastrophic_error",
        "missing required key",
        "decide",
    ),
    ("bad kind", _set(f"{PH}.screen.kind", "guessing"), f"{PH}.screen.kind", "not allowed", "kind"),
    ("bad provider type", _set("providers.p.type", "bedrock"), "providers.p", "unknown type", "p:"),
    (
        "secret in policy",
        _set("providers.p.api_key", "sk-ant-123"),
        "providers.p.api_key",
        "env:ANTHROPIC_API_KEY",
        "api_key",
    ),
    ("one tier", _set("tiers", ["only"]), "tiers", "at least 2", "tiers"),
    (
        "margin out of range",
        _set(f"{PH}.screen.quality", {"margin": 3}),
        f"{PH}.screen.quality.margin",
        "at most 1",
        "margin",
    ),
    (
        "unknown provider",
        _set("models.small.provider", "nope"),
        "models.small.provider",
        "unknown provider 'nope'",
        "provider",
    ),
    (
        "unknown tier on model",
        _set("models.small.tier", "gold"),
        "models.small.tier",
        "unknown tier 'gold'",
        "tier",
    ),
    (
        "dangling caught_by",
        _set(f"{PH}.screen.caught_by", "ghost"),
        f"{PH}.screen.caught_by",
        "caught_by names nothing",
        "caught_by",
    ),
    (
        "unknown feeds",
        _set(f"{PH}.screen.feeds", ["nowhere"]),
        f"{PH}.screen.feeds[0]",
        "unknown phase 'nowhere'",
        "nowhere",
    ),
    (
        "override without justification",
        _set(f"{PH}.screen.route", {"tier": "top"}),
        f"{PH}.screen.route.justification",
        "needs a justification",
        "route",
    ),
    (
        "audit below top without override",
        _set(f"{PH}.interpret.route", {"tier": "cheap"}),
        f"{PH}.interpret.route",
        "audit phase routed below the top tier",
        "route",
    ),
    (
        "duplicate tier",
        _set("tiers", ["cheap", "mid", "cheap", "top"]),
        "tiers[2]",
        "tiers do not order",
        "cheap",
    ),
    (
        "phase named like a control",
        _set(f"{PH}.human", {"kind": "review", "catastrophic_error": "missed_risk"}),
        f"{PH}.human",
        "duplicate name",
        "human",
    ),
    (
        "route to unknown model",
        _set(f"{PH}.screen.route", {"model": "huge", "justification": "x"}),
        f"{PH}.screen.route.model",
        "unknown model 'huge'",
        "model",
    ),
    (
        "degrade on audit phase",
        _set(f"{PH}.interpret.on_unavailable", "degrade"),
        f"{PH}.interpret.on_unavailable",
        "never be served below",
        "on_unavailable",
    ),
    (
        "tier without a model",
        _set("tiers", ["cheap", "mid", "top", "ultra"]),
        "tiers[3]",
        "has no model",
        "ultra",
    ),
    (
        "unknown strong tier",
        _set("routing", {"strong_tier": "gold"}),
        "routing.strong_tier",
        "unknown tier 'gold'",
        "strong_tier",
    ),
    (
        "cheap above strong",
        _set("routing", {"strong_tier": "mid", "cheap_tier": "top"}),
        "routing.cheap_tier",
        "above strong tier",
        "cheap_tier",
    ),
    (
        "duplicate feeds entry",
        _set(f"{PH}.screen.feeds", ["draft", "draft"]),
        f"{PH}.screen.feeds[1]",
        "listed twice",
        "draft",
    ),
    (
        "caught by itself",
        _set(f"{PH}.screen.caught_by", "screen"),
        f"{PH}.screen.caught_by",
        "own errors",
        "caught_by",
    ),
    (
        "bad validator function",
        _set(
            f"{PH}.screen.escalation", {"validator": {"type": "callable", "function": "not a ref"}}
        ),
        f"{PH}.screen.escalation.validator.function",
        "module:function",
        "function",
    ),
]


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "policy.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def _problems(text: str, file: str = "policy.yaml") -> tuple[Problem, ...]:
    with pytest.raises(PolicyError) as info:
        compile_policy(load_policy_text(text, file=file))
    return info.value.problems


def test_base_policy_is_valid() -> None:
    plan = compile_policy(load_policy_text(dump(base())))
    assert len(plan.decisions) == 4


@pytest.mark.parametrize(
    ("mutate", "path", "words", "on_line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_mistake_gives_one_located_message(
    mutate: Mutation, path: str, words: str, on_line: str
) -> None:
    data = base()
    mutate(data)
    text = dump(data)
    problems = _problems(text)
    assert len(problems) == 1, [p.render() for p in problems]
    (p,) = problems
    assert p.path == path
    assert words in p.render()
    assert p.file == "policy.yaml"
    assert p.line is not None
    assert p.column is not None
    assert on_line in text.splitlines()[p.line - 1]
    assert p.fix


def test_three_phase_cycle_is_shown() -> None:
    data = base()
    phase(data, "screen")["feeds"] = ["draft"]
    phase(data, "draft")["feeds"] = ["decide"]
    phase(data, "decide")["feeds"] = ["screen"]
    (p,) = _problems(dump(data))
    assert "cycle in feeds: screen → draft → decide → screen" in p.message
    assert p.path == f"{PH}.screen.feeds"


YAML_CASES = [
    ("tab indentation", "version: 1\ntiers:\n\t- a\n", 3, "tabs", "tiers"),
    ("duplicate key", "version: 1\nversion: 1\n", 2, "duplicate", "version"),
    ("nested duplicate key", "a:\n  b: 1\n  b: 2\n", 3, "duplicate key 'b'", "a.b"),
    (
        "unclosed flow list",
        "version: 1\ntiers: [a, b\nmodels: {}\n",
        3,
        "opened on line 2",
        "tiers",
    ),
    (
        "unclosed list deep inside",
        "workflows:\n  aml:\n    phases:\n      x:\n        kind: [a\n        feeds: b\n",
        6,
        "opened on line 5",
        "workflows.aml.phases.x.kind",
    ),
    ("bad indentation", "version: 1\ntiers:\n  - a\n - b\n", 4, "YAML syntax error", "tiers"),
    ("list at top", "- a\n- b\n", 1, "must be a YAML mapping", None),
    ("empty document", "", 1, "must be a YAML mapping", None),
]


@pytest.mark.parametrize(
    ("text", "line", "words", "path"),
    [c[1:] for c in YAML_CASES],
    ids=[str(c[0]) for c in YAML_CASES],
)
def test_malformed_yaml(text: str, line: int, words: str, path: str | None) -> None:
    (p,) = _problems(text)
    assert p.line == line
    assert words in p.render()
    assert p.path == path
    assert p.fix


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, dump(base()))
    assert run(["check", str(good)]) == 0
    data = base()
    phase(data, "screen")["caught_by"] = "ghost"
    bad = _write(tmp_path, dump(data))
    capsys.readouterr()
    assert run(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert f"{bad}:" in err
    assert "Traceback" not in err
    assert run(["check"]) == 2
    assert run(["check", str(tmp_path / "missing.yaml")]) == 1
    assert "no such policy file" in capsys.readouterr().err


def test_several_mistakes_are_all_reported() -> None:
    data = base()
    phase(data, "screen")["caught_by"] = "ghost"
    data["models"]["small"]["provider"] = "nope"
    problems = _problems(dump(data))
    assert {p.path for p in problems} == {f"{PH}.screen.caught_by", "models.small.provider"}
