"""Gzipped JSONL (``.jsonl.gz``) is read wherever a recorded-outcome or dataset file is read."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from project_paths import MMLU, ROOT

from phaseroute._jsonl import jsonl_stem, read_jsonl_bytes
from phaseroute.cli._app import run
from phaseroute.errors import DatasetError
from phaseroute.measure import read_labelled
from phaseroute.policy._lock import labelled_dataset_hash, recorded_subject_lines
from phaseroute.recorded import read_recorded

RECORDED = [
    {"phase": "p", "item": "a", "prompt": "q1", "scores": {"x": 1, "y": 0}},
    {"phase": "p", "item": "b", "prompt": "q2", "scores": {"x": 0, "y": 1}},
    {"phase": "r", "item": "c", "prompt": "q3", "scores": {"x": 1, "y": 1}},
]


def _pair(tmp_path: Path, rows: list[dict[str, object]], stem: str = "r") -> tuple[Path, Path]:
    text = "".join(json.dumps(r) + "\n" for r in rows).encode()
    plain = tmp_path / f"{stem}.jsonl"
    plain.write_bytes(text)
    packed = tmp_path / f"{stem}.jsonl.gz"
    packed.write_bytes(gzip.compress(text))
    return plain, packed


def test_recorded_outcomes_read_the_same_from_gzip(tmp_path: Path) -> None:
    plain, packed = _pair(tmp_path, RECORDED)
    assert read_recorded(packed).items == read_recorded(plain).items


def test_labelled_dataset_reads_and_hashes_the_same_from_gzip(tmp_path: Path) -> None:
    plain, packed = _pair(tmp_path, [{"id": "a", "prompt": "hi", "label": "x"}], "d")
    assert read_labelled(packed).items == read_labelled(plain).items
    assert read_labelled(packed).sha256 == read_labelled(plain).sha256
    assert labelled_dataset_hash(packed) == labelled_dataset_hash(plain)


def test_lock_hashes_of_recorded_subjects_ignore_the_container(tmp_path: Path) -> None:
    plain, packed = _pair(tmp_path, RECORDED)
    assert recorded_subject_lines(packed) == recorded_subject_lines(plain)


def test_a_bad_row_inside_gzip_is_named_by_line(tmp_path: Path) -> None:
    _, packed = _pair(tmp_path, [*RECORDED, {"phase": "p", "item": "d"}])
    with pytest.raises(DatasetError) as info:
        read_recorded(packed)
    assert info.value.problems[0].line == 4
    assert info.value.problems[0].file == str(packed)


def test_a_file_named_gz_that_is_not_gzip_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.jsonl.gz"
    bad.write_text('{"phase": "p"}\n', encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        read_jsonl_bytes(bad)
    (problem,) = info.value.problems
    assert problem.file == str(bad)
    assert "gzip" in problem.message
    assert problem.fix


@pytest.mark.parametrize(
    ("name", "stem"),
    [("mmlu.jsonl.gz", "mmlu"), ("mmlu.jsonl", "mmlu"), ("x.gz", "x"), ("a.b.jsonl", "a.b")],
)
def test_stems_drop_the_jsonl_and_gz_suffixes(name: str, stem: str) -> None:
    assert jsonl_stem(Path("dir") / name) == stem


def test_replay_policy_names_the_workflow_after_a_gzipped_file(tmp_path: Path) -> None:
    _, packed = _pair(tmp_path, RECORDED, "things")
    out = tmp_path / "p.yaml"
    assert run(["replay-policy", str(packed), "-o", str(out)]) == 0
    assert "  things:\n" in out.read_text(encoding="utf-8")


def test_measure_finds_a_gzipped_dataset_in_the_data_dir(tmp_path: Path) -> None:
    from phaseroute.measure._tasks import dataset_path
    from phaseroute.policy import load_policy

    (tmp_path / "data" / "aml_alert_review").mkdir(parents=True)
    target = tmp_path / "data" / "aml_alert_review" / "intake_screening.jsonl.gz"
    target.write_bytes(gzip.compress(b'{"prompt": "x", "label": "y"}\n'))
    loaded = load_policy(ROOT / "examples" / "aml" / "phaseroute.yaml")
    found = dataset_path(loaded, "aml_alert_review", "intake_screening", tmp_path / "data")
    assert found == target


def test_the_shipped_mmlu_file_is_the_recorded_source() -> None:
    """examples/mmlu/README.md states the source file's SHA-256; the shipped copy must match."""
    stated = (ROOT / "examples" / "mmlu" / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(read_jsonl_bytes(MMLU)).hexdigest()
    assert digest in stated
    assert "Apache-2.0" in stated
    assert "MIT licence" in stated
