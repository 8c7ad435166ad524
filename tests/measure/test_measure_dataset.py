"""Labelled datasets: valid rows read, every bad row named by file and line, nothing dropped."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from measure_fixtures import write_jsonl

from phaseroute.errors import DatasetError
from phaseroute.measure import read_labelled
from phaseroute.providers._base import Message


def test_reads_prompt_and_message_rows(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"id": "a", "prompt": "Is this risky?", "label": "risk", "metadata": {"src": "x"}},
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "sum 2+2"},
                ],
                "system": "be terse",
                "expected": 4,
            },
        ],
    )
    ds = read_labelled(path)
    assert len(ds) == 2
    first, second = ds.items
    assert first.item == "a"
    assert first.messages == (Message("user", "Is this risky?"),)
    assert first.label == "risk"
    assert first.metadata == {"src": "x"}
    assert second.item == "line-2"
    assert second.system == "be terse"
    assert second.expected == 4.0
    assert len(second.messages) == 3
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"prompt": "x"}, "says nothing about a good answer"),
        ({"prompt": "x", "messages": [], "label": "a"}, "exactly one of 'messages' or 'prompt'"),
        ({"messages": [{"role": "system", "content": "x"}], "label": "a"}, "messages[0]"),
        ({"prompt": "", "label": "a"}, "'prompt' must be a non-empty string"),
        ({"prompt": "x", "expected": [1]}, "'expected' must be a string or a finite number"),
        ({"prompt": "x", "label": "a", "colour": 1}, "unknown key(s) colour"),
        ({"prompt": "x", "label": "a", "metadata": 3}, "'metadata' must be an object"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path: Path, row: dict[str, object], fragment: str) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "ok", "label": "a"}, row])
    with pytest.raises(DatasetError) as err:
        read_labelled(path)
    assert any(p.line == 2 and p.file == str(path) for p in err.value.problems)
    assert fragment in str(err.value)


def test_every_bad_row_is_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"prompt": "a", "label": "x"}\nnot json\n{"prompt": "b"}\n\n'
        '{"prompt": "c", "label": "y"}\n'
    )
    with pytest.raises(DatasetError) as err:
        read_labelled(path)
    assert [p.line for p in err.value.problems] == [2, 3]
    assert "not valid JSON" in err.value.problems[0].message


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": "a", "prompt": "x", "label": "l"}, {"id": "a", "prompt": "y", "label": "l"}],
    )
    with pytest.raises(DatasetError, match="duplicate id 'a' \\(first on line 1\\)"):
        read_labelled(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read dataset"):
        read_labelled(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="no rows"):
        read_labelled(tmp_path / "empty.jsonl")
