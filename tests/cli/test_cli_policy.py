"""``phaseroute explain`` on the AML example, in every format, with filters."""

from __future__ import annotations

import json

import pytest
from project_paths import AML_POLICY

from phaseroute.cli._app import run

WF = "aml_alert_review"


def test_explain_table_shows_the_three_documented_decisions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["explain", str(AML_POLICY)]) == 0
    out = capsys.readouterr().out
    for words in ("compliance_interpretation", "Rule 1 (audit)", "Rule 3", "Rule 4", "measure it"):
        assert words in out


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["explain", str(AML_POLICY), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["phase"]: r for r in doc["phases"]}
    assert rows["compliance_interpretation"]["tier"] == "frontier"
    assert rows["intake_screening"]["tier"] == "economy"
    assert rows["intake_screening"]["basis"] == "rule"
    assert rows["sar_drafting"]["rule"] == "rule 4: dependency"
    assert len(doc["policy_hash"]) == 64


def test_explain_markdown_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            [
                "explain",
                str(AML_POLICY),
                "--format",
                "markdown",
                "--workflow",
                WF,
                "--phase",
                "sar_drafting",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("| aml_alert_review/") == 1
    assert "sar_drafting" in out
    assert run(["explain", str(AML_POLICY), "--phase", "intake_screening", "--format", "json"]) == 0
    assert [r["phase"] for r in json.loads(capsys.readouterr().out)["phases"]] == [
        "intake_screening"
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--workflow", "nope"], "unknown workflow 'nope'"),
        (["--workflow", WF, "--phase", "nope"], "unknown phase 'nope'"),
        (["--phase", "nope"], "no workflow of this policy has a phase named 'nope'"),
    ],
)
def test_explain_unknown_names(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["explain", str(AML_POLICY), *args]) == 1
    assert words in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    assert run(["explain", str(AML_POLICY), "--format", "pdf"]) == 2
    assert run(["no-such-command"]) == 2
