"""Tables keep every column whole at any width; machine formats never wrap."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from project_paths import AML_POLICY
from rich.console import Console

from phaseroute.cli._app import run
from phaseroute.cli._tables import Column, fold_name, new_table, print_table

LONG = "high_school_government_and_politics"


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("typology_classification", "typology_\nclassification"),
        ("compliance_interpretation", "compliance_\ninterpretation"),
        (LONG, "high_school_\ngovernment_and_\npolitics"),
        ("aml_alert_review", "aml_alert_review"),  # short enough: whole
        ("Mixtral-8x7B-Instruct-v0.1", "Mixtral-8x7B-\nInstruct-v0.1"),
        ("averyveryverylongsingleword", "averyveryverylongsingleword"),  # no separator: whole
    ],
)
def test_names_fold_at_their_separators(name: str, folded: str) -> None:
    assert fold_name(name) == folded


def _sample() -> object:
    t = new_table(
        "Measurement",
        [
            Column("phase", kind="name"),
            Column("model", kind="name", fold=14),
            Column("outcome"),
            Column("n", justify="right", kind="number"),
            Column("gap, pts (95% CI)"),
            Column("margin", justify="right", kind="number"),
            Column("needs", justify="right", kind="number"),
        ],
    )
    t.add_row(
        LONG,
        "gpt-4-1106-preview",
        "inconclusive",
        "1540",
        "+10.3 [-2.0, +15.0]",
        "2",
        "42210",
    )
    return t


def _render(width: int, *, terminal: bool) -> str:
    console = Console(
        file=io.StringIO(), width=width, force_terminal=terminal, no_color=True, record=True
    )
    print_table(console, _sample())  # type: ignore[arg-type]
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100, 160])
def test_a_terminal_table_keeps_every_column_whole(width: int) -> None:
    out = _render(width, terminal=True)
    if width >= 160:
        assert LONG in out  # room enough: names stay whole
    assert max(len(line) for line in out.splitlines()) <= width
    for whole in ("margin", "needs", "42210", "1540", "inconclusive", "politics", "+15.0]"):
        assert whole in out
    assert "…" not in out


def test_a_terminal_too_narrow_gets_one_block_per_row() -> None:
    out = _render(40, terminal=True)
    assert max(len(line) for line in out.splitlines()) <= 40
    assert f"phase: {LONG}" in " ".join(out.split())
    assert "needs: 42210" in " ".join(out.split())


def test_a_pipe_gets_the_table_at_the_width_it_needs() -> None:
    out = _render(40, terminal=False)
    assert LONG in out  # names whole: a pipe has no width to fit
    assert "needs" in out
    assert "42210" in out
    assert "…" not in out


def test_explain_markdown_never_wraps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert run(["explain", str(AML_POLICY), "--format", "markdown"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    table = [line for line in rows if not line.startswith("#")]
    assert len(table) == 2 + 6  # header, rule, one row per phase
    assert all(line.startswith("| ") or line.startswith("|---") for line in table)
    assert all(line.endswith("|") for line in table)


@pytest.mark.parametrize(
    "args",
    [
        ["explain", str(AML_POLICY), "--format", "json"],
        ["cost", str(AML_POLICY), "--format", "json"],
    ],
)
def test_json_never_wraps(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    assert run(args) == 0
    json.loads(capsys.readouterr().out)  # a wrapped string would not parse


def test_cost_markdown_never_wraps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert run(["cost", str(AML_POLICY), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    tables: list[list[str]] = [[]]
    for line in out.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert tables
    for rows in tables:  # each table's rows whole: one line each, the same cells
        assert all(line.endswith("|") for line in rows)
        assert len({line.replace("\\|", "").count("|") for line in rows}) == 1


def test_usage_at_80_columns_keeps_names_and_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from phaseroute.runtime import UsageLedger, UsageRecord

    db = tmp_path / "ledger.db"
    ledger = UsageLedger.open(db)
    for phase in ("compliance_interpretation", "typology_classification"):
        ledger.record(
            UsageRecord(
                recorded_at=datetime.now(UTC),
                workflow="aml_alert_review",
                phase=phase,
                model="m",
                model_id="m-1",
                model_reported="m-1",
                provider="p",
                tier="top",
                required_tier="top",
                outcome="served",
                input_tokens=123_456,
                output_tokens=7_890,
                cache_read_tokens=0,
                cache_write_tokens=0,
                cost=Decimal("12.3456"),
                counterfactual_cost=Decimal("23.4567"),
                latency_s=0.1,
                attempts=1,
                fell_back=False,
                degraded=False,
                stream=False,
                policy_hash="h" * 64,
            )
        )
    ledger.close()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("FORCE_COLOR", "1")  # behave as on a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert run(["usage", "--db", str(db)]) == 0
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # styles, not text
    assert max(len(line) for line in out.splitlines()) <= 80
    flat = " ".join(out.split())
    for whole in ("aml_alert_review", "123,456", "7,890", "$12.3456", "$23.4567", "saving"):
        assert whole in flat
    assert "…" not in out
    lines = [line.split() for line in out.splitlines() if line.strip()]
    folded = [n for n, words in enumerate(lines) if words[0] == "compliance_"]
    assert folded  # folded at the underscore, not cut
    assert lines[folded[0] + 1][0] == "interpretation"
