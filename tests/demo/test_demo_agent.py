"""`phaseroute demo-agent`: the execution phase calls tools on the cheap tier, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseroute.cli._app import run
from phaseroute.demo import run_agent_demo
from phaseroute.runtime import UsageLedger


def test_the_agent_plans_on_the_top_tier_and_calls_tools_on_the_cheap_one(tmp_path: Path) -> None:
    result = run_agent_demo(tmp_path)
    assert len(result.runs) == 2
    for _, execution in result.runs:
        assert execution.plan.tier == "frontier"
        assert {c.tier for step in execution.turns for c in step} == {"economy"}
        assert any(c.tool_calls for step in execution.turns for c in step)
    first = result.runs[0][1]
    assert [t.call.name for t in first.tool_runs if t.is_error] == ["sanctions_check"]
    assert result.cost is not None
    assert result.top_tier_cost is not None
    assert result.cost < result.top_tier_cost
    (totals,) = UsageLedger.open(tmp_path / "agent.db").totals(by_phase=False)
    assert totals.calls == sum(len(r.calls) for _, r in result.runs)


def test_the_command_prints_tool_calls_on_the_cheap_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert run(["demo-agent", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for words in (
        "economy · haiku",
        "lookup_customer(C-17)",
        "tool error sanctions_check",
        '"decision": "investigate"',
        "on the top tier alone",
    ):
        assert words in out
