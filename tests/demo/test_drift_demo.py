"""The production loop end to end, offline: drift → alarm → revert → audit → dashboard →
`phaseroute drift`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phaseroute.cli._app import run
from phaseroute.demo import run_drift_demo
from phaseroute.monitor import DriftState


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return run_drift_demo(tmp_path_factory.mktemp("drift"), calls=3000, drift_from=1000)


def test_the_alarm_comes_after_the_drift_and_reverts_the_phase(drifted) -> None:  # type: ignore[no-untyped-def]
    w = drifted.status.watch
    assert w.state is DriftState.drifted
    assert drifted.status.reverted
    # About a tenth of the 1,000 healthy calls were shadowed before the drift: the alarm
    # cannot come from them (the gap there is within the margin).
    assert w.alarm_at is not None
    assert w.alarm_at > 60
    assert drifted.first_top_tier_call is not None
    assert drifted.first_top_tier_call > drifted.drift_from
    assert drifted.audit_sequence is not None
    assert w.lower is not None
    assert w.lower > w.margin  # the recent interval lies beyond the margin


def test_the_dashboard_page_shows_the_drift(drifted) -> None:  # type: ignore[no-untyped-def]
    page = drifted.dashboard.read_text()
    assert "drifted: alarm raised, reverted to the top tier" in page
    assert "Is routing saving money?" in page
    assert "None" not in page
    assert "{" not in page.split("</style>")[1]  # no raw JSON in the body


def test_drift_cli_reports_state_interval_and_spend(
    drifted, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    policy = drifted.workdir / "phaseroute.yaml"
    assert run(["drift", str(policy), "--format", "json"]) == 0
    (phase,) = json.loads(capsys.readouterr().out)
    assert phase["state"] == "drifted"
    assert phase["reverted"] is True
    assert phase["pairs"] == drifted.status.watch.pairs
    assert float(phase["shadow_cost_usd"]) > 0
    assert run(["drift", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "drifted" in out
    assert "re-measure" in out


def test_drift_cli_names_an_unknown_workflow(drifted, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    policy = drifted.workdir / "phaseroute.yaml"
    assert run(["drift", str(policy), "--workflow", "nope"]) == 1
    err = capsys.readouterr().err
    assert "nope" in err
    assert "aml_alert_review" in err


def test_demo_command_runs_the_drift_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["demo", "--scenario", "drift", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "alarm" in out
    assert "reverted" in out
