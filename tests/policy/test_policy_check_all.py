"""`check` on what a new user gets wrong: every error in one run, tier order against prices,
audited phases without a signing key, missed-risk phases not measured on recall."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from policies import base, dump, phase

from phaseroute.cli._app import run
from phaseroute.errors import PolicyError, Problem
from phaseroute.policy import compile_policy, load_policy_text

PH = "workflows.wf.phases"


def _problems(data: dict[str, Any]) -> tuple[Problem, ...]:
    with pytest.raises(PolicyError) as info:
        compile_policy(load_policy_text(dump(data), file="policy.yaml"))
    return info.value.problems


def _lines(problems: tuple[Problem, ...]) -> list[int]:
    return [p.line or 0 for p in problems]


# ------------------------------------------------------------------ one run, by line


def test_schema_and_reference_errors_come_together_ordered_by_line() -> None:
    data = base()
    data["models"]["small"]["colour"] = "red"  # schema: unknown key
    data["models"]["large"]["provider"] = "nope"  # reference
    phase(data, "screen")["volume"] = -3  # schema: bad value
    phase(data, "screen")["caught_by"] = "ghost"  # reference
    phase(data, "decide")["kind"] = "wrong"  # schema: bad enum
    phase(data, "draft")["feeds"] = ["decide", "nowhere"]  # reference
    problems = _problems(data)
    assert {p.path for p in problems} == {
        "models.small.colour",
        "models.large.provider",
        f"{PH}.screen.volume",
        f"{PH}.screen.caught_by",
        f"{PH}.decide.kind",
        f"{PH}.draft.feeds[1]",
    }
    assert _lines(problems) == sorted(_lines(problems))
    assert all(p.fix and p.line and p.column for p in problems)


def test_an_unreadable_entry_is_not_reported_again_where_it_is_referenced() -> None:
    data = base()
    del data["models"]["medium"]["tier"]  # the model cannot be read
    phase(data, "draft")["route"] = {"model": "medium", "justification": "tested"}
    del phase(data, "decide")["catastrophic_error"]  # the phase cannot be read
    phase(data, "screen")["caught_by"] = "ghost"
    problems = _problems(data)
    # 'medium' and 'decide' are named by their own schema problem only: not as unknown
    # model / phase where 'draft' refers to them, nor as an empty 'mid' tier
    assert {p.path for p in problems} == {
        "models.medium.tier",
        f"{PH}.decide.catastrophic_error",
        f"{PH}.screen.caught_by",
    }


def test_unknown_key_in_a_tagged_union_still_lets_references_be_checked() -> None:
    data = base()
    data["providers"]["p"]["region"] = "eu"
    data["models"]["small"]["provider"] = "ghost"
    problems = _problems(data)
    assert [p.path for p in problems] == ["providers.p.region", "models.small.provider"]


def test_unreadable_tiers_leave_no_reference_pass() -> None:
    data = base()
    data["tiers"] = "cheap, top"
    phase(data, "screen")["caught_by"] = "ghost"
    assert [p.path for p in _problems(data)] == ["tiers"]


def test_check_prints_every_error_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = base()
    data["models"]["small"]["colour"] = "red"
    phase(data, "screen")["caught_by"] = "ghost"
    f = tmp_path / "policy.yaml"
    f.write_text(dump(data))
    assert run(["check", str(f)]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 2
    assert err.index("colour") < err.index("ghost")


# ------------------------------------------------------------------ tier order vs prices


def test_tiers_in_the_wrong_order_are_rejected_at_the_tiers_line() -> None:
    data = base()
    data["tiers"] = ["top", "mid", "cheap"]  # opus listed as the cheapest tier
    text = dump(data)
    with pytest.raises(PolicyError) as info:
        compile_policy(load_policy_text(text, file="policy.yaml"))
    problems = info.value.problems
    assert [p.path for p in problems] == ["tiers[0]", "tiers[1]"]
    first = problems[0]
    assert "tier order disagrees with the prices" in first.message
    assert "'large'" in first.message
    assert first.line is not None
    assert text.splitlines()[first.line - 1].strip() == "- top"
    assert first.fix is not None
    assert "tiers: [cheap, mid, top]" in first.fix


def test_check_exits_1_on_tiers_in_the_wrong_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = base()
    data["tiers"] = ["top", "mid", "cheap"]
    f = tmp_path / "policy.yaml"
    f.write_text(dump(data))
    assert run(["check", str(f)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"{f}:3:" in err
    assert "tiers[0]: tier order disagrees with the prices" in err
    assert "fix: list tiers cheapest first" in err


@pytest.mark.parametrize(
    ("prices", "ok"),
    [
        ({"small": ("1", "2"), "medium": ("1", "2"), "large": ("1", "2")}, True),  # equal
        ({"small": ("5", "5")}, False),  # the cheap tier priced above the middle one
        ({"large": ("0.1", "0.1")}, False),  # the top tier priced below the rest
    ],
)
def test_price_overrides_count_in_the_tier_order(
    prices: dict[str, tuple[str, str]], ok: bool
) -> None:
    data = base()
    for name, (unit_in, unit_out) in prices.items():
        data["models"][name]["price"] = {"input_per_mtok": unit_in, "output_per_mtok": unit_out}
    if ok:
        compile_policy(load_policy_text(dump(data)))
    else:
        assert any("tier order" in p.message for p in _problems(data))


def test_unpriced_tiers_are_not_compared_and_primary_models_decide() -> None:
    data = base()
    data["models"]["medium"]["id"] = "in-house-unpriced"
    # a second, pricier model in the cheap tier does not make the order wrong:
    # the tier is priced by its primary (first listed) model
    data["models"]["pricey"] = {"provider": "p", "id": "claude-opus-4-1", "tier": "cheap"}
    compile_policy(load_policy_text(dump(data)))
    data["tiers"] = ["top", "mid", "cheap"]
    (p,) = _problems(data)
    assert p.path == "tiers[0]"
    assert "'small'" in p.message  # priced tiers compared across the unpriced 'mid'


# ------------------------------------------------------------------ audit signing key


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: None, f"{PH}.interpret.audit"),
        (lambda d: phase(d, "decide").update(record=True), f"{PH}.decide.record"),
        (
            lambda d: d.update(audit={"record_all_phases": True}),
            "audit.record_all_phases",
        ),
    ],
    ids=["audit phase", "record phase", "record all phases"],
)
def test_recorded_phases_need_a_signing_key(change: Any, path: str) -> None:
    data = base()
    del data["audit"]
    if path != f"{PH}.interpret.audit":
        del phase(data, "interpret")["audit"]
    change(data)
    (p,) = _problems(data)
    assert p.path == path
    assert "no audit.signing_key" in p.message
    assert p.fix is not None
    assert "phaseroute audit keygen --policy" in p.fix


def test_no_recorded_phase_needs_no_key() -> None:
    data = base()
    del data["audit"]
    del phase(data, "interpret")["audit"]
    compile_policy(load_policy_text(dump(data)))


# ------------------------------------------------------------------ missed risk metric


def test_missed_risk_phase_on_accuracy_is_a_located_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = base()
    phase(data, "decide")["quality"] = {"metric": "accuracy", "margin": 0.05}
    plan = compile_policy(load_policy_text(dump(data), file="policy.yaml"))
    (w,) = plan.notices
    assert w.path == f"{PH}.decide.quality.metric"
    assert w.line is not None
    assert "recall" in w.message
    f = tmp_path / "policy.yaml"
    f.write_text(dump(data))
    assert run(["check", str(f)]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out
    assert "1 warning(s)" in out


def test_missed_risk_phase_on_recall_is_quiet() -> None:
    data = base()
    phase(data, "decide")["quality"] = {"metric": "recall", "positive_label": "risky"}
    plan = compile_policy(load_policy_text(dump(data)))
    assert plan.notices == ()


# ------------------------------------------------------------------ numbers that are not numbers


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf"])
def test_infinite_or_nan_numbers_are_located_errors(value: str) -> None:
    text = dump(base()).replace("type: anthropic", f"type: anthropic\n    timeout_s: {value}", 1)
    with pytest.raises(PolicyError) as info:
        compile_policy(load_policy_text(text, file="policy.yaml"))
    (problem,) = info.value.problems
    assert problem.path == "providers.p.timeout_s"
    assert problem.line
    assert problem.fix
    assert "finite" in problem.message + problem.fix
