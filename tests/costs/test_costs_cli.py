"""``phaseroute cost``: formats, the plot files, and exit codes for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cost_policies import ALL_TOP_POLICY, HAND_POLICY
from project_paths import AML_POLICY

from phaseroute.cli._app import run


@pytest.fixture
def hand_policy(tmp_path: Path) -> Path:
    path = tmp_path / "hand.yaml"
    path.write_text(HAND_POLICY, encoding="utf-8")
    return path


def test_table_shows_scenarios_saving_and_version(
    hand_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["cost", str(hand_policy)]) == 0
    out = capsys.readouterr().out
    for words in (
        "uniform top tier",
        "routing plan",
        "uniform cheapest tier",
        "$31.50",  # uniform top per day
        "$8.70",  # routed per day
        "$957.60",  # uniform top per month
        "saves $22.80/day, $693.12/month (72.4%)",
        "Not costed: unprofiled",
        "no token profile",
        "Not costed: idle",
        "30.4 days",
        "genai-prices ",
        "--plot-dir",
    ):
        assert words in out, words


def test_json_matches_the_hand_computation(
    hand_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["cost", str(hand_policy), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (wf,) = doc["workflows"]
    assert wf["daily"]["uniform_top"] == "31.500000"
    assert wf["daily"]["routed"] == "8.700000"
    assert wf["daily"]["uniform_cheapest"] == "2.700000"
    assert wf["monthly"]["saving"] == "693.120000"
    assert wf["sensitivity"]["volume_ratio"] == pytest.approx(10.0)
    assert wf["sensitivity"]["saving_pct"] == pytest.approx(72.381, abs=1e-3)
    assert wf["plots"] == []
    assert {u["phase"] for u in wf["not_costed"]} == {"unprofiled", "idle"}


def test_markdown(hand_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["cost", str(hand_policy), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Cost projection")
    assert "| screen | cheap · c | 1,000 | 2,000 / 100 | $25.00 | $2.20 | $2.20 |" in out
    assert "| **total** |" in out
    assert "- Not costed: **unprofiled**" in out


def test_plot_dir_writes_png_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plots = tmp_path / "plots" / "nested"
    assert run(["cost", str(AML_POLICY), "--plot-dir", str(plots), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (files,) = doc["workflows"][0]["plots"]
    png, svg = Path(files["png"]), Path(files["svg"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text
    assert "genai-prices" in text  # the price data version is on the plot


def test_no_plot_when_nothing_is_routed_cheap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "top.yaml"
    policy.write_text(ALL_TOP_POLICY, encoding="utf-8")
    plots = tmp_path / "plots"
    assert run(["cost", str(policy), "--plot-dir", str(plots)]) == 0
    out = capsys.readouterr().out
    assert "No sensitivity plot: no costed phase is routed below the strong tier" in out
    assert not list(plots.glob("*.png"))


def test_workflow_filter(hand_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["cost", str(hand_policy), "--workflow", "wf", "--format", "json"]) == 0
    assert [w["workflow"] for w in json.loads(capsys.readouterr().out)["workflows"]] == ["wf"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--workflow", "nope"], 1, "unknown workflow 'nope' (this policy has: wf)"),
        (["--format", "xml"], 2, "'xml' is not one of"),
        (["--plot-dir", "{policy}"], 1, "is a file — name a directory"),
    ],
)
def test_user_mistakes(
    hand_policy: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    args = [a.replace("{policy}", str(hand_policy)) for a in args]
    assert run(["cost", str(hand_policy), *args]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["cost", str(tmp_path / "missing.yaml")]) == 1
    assert "no such policy file" in capsys.readouterr().err


def test_unwritable_plot_dir(hand_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = hand_policy.parent / "blocker"
    blocker.write_text("a file where a directory is needed", encoding="utf-8")
    assert run(["cost", str(hand_policy), "--plot-dir", str(blocker / "plots")]) == 1
    assert "cannot write the plot into --plot-dir" in capsys.readouterr().err
