"""The recorded-outcome reader: any models and scales, and bad rows named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phaseroute.errors import DatasetError
from phaseroute.recorded import read_recorded


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        + "\n",
        encoding="utf-8",
    )
    return path


def row(item: str, **scores: float) -> dict[str, object]:
    return {"phase": "p", "item": item, "prompt": "q", "scores": scores}


def test_three_models_on_a_1_to_10_scale(tmp_path: Path) -> None:
    f = _write(tmp_path / "r.jsonl", [row("a", x=1, y=10, z=5.5), row("b", x=3, y=7, z=2)])
    rec = read_recorded(f)
    assert rec.models == ("x", "y", "z")
    assert (rec.score_min, rec.score_max) == (1, 10)
    assert rec.normalised(5.5) == pytest.approx(0.5)
    assert len(rec.phases["p"]) == 2


def test_line_separators_inside_json_strings_are_not_line_breaks(tmp_path: Path) -> None:
    tricky = row("a", x=1, y=0)
    tricky["prompt"] = "first\u2028second\u0085third"
    f = _write(tmp_path / "r.jsonl", [tricky, row("b", x=1, y=0), "{oops"])
    with pytest.raises(DatasetError) as info:
        read_recorded(f)
    (problem,) = info.value.problems
    assert problem.line == 3
    assert "not valid JSON" in problem.message


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (row("a", x=1), "two or more model names"),
        (
            {"phase": "p", "item": "a", "prompt": "q", "scores": {"x": "1", "y": 0}},
            "not a finite number",
        ),
        (
            {"phase": "p", "item": "a", "prompt": "q", "scores": {"x": 1, "y": 0}, "extra": 1},
            "unknown key",
        ),
        ([1, 2], "must be a JSON object"),
        (row("dup", x=1, y=0), "duplicate item id 'dup' (first on line 1)"),
    ],
)
def test_bad_rows_are_named_by_line(tmp_path: Path, bad: object, words: str) -> None:
    f = _write(tmp_path / "r.jsonl", [row("dup", x=1, y=1), bad])
    with pytest.raises(DatasetError) as info:
        read_recorded(f)
    assert any(p.line == 2 and words in p.render() for p in info.value.problems)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read recorded outcomes"):
        read_recorded(tmp_path / "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DatasetError, match="no rows"):
        read_recorded(tmp_path / "empty.jsonl")
