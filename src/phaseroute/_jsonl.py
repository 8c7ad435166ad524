"""Reading JSONL files row by row, with every bad row reported by file and line.

Shared by the recorded-outcome reader, the labelled-dataset reader and the lock file's
dataset hashes. A file whose name ends in ``.gz`` is read through gzip, so ``x.jsonl.gz``
works wherever ``x.jsonl`` does (and hashes the same: the hash is of the JSONL text, not
of its container). Lines are split on ``\\n`` only: JSON strings may legally hold U+2028
and other characters that ``str.splitlines`` would treat as line breaks.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from phaseroute.errors import DatasetError, Problem

MAX_PROBLEMS = 20

T = TypeVar("T")
RowParser = Callable[[object, str, int], tuple[T | None, list[Problem]]]


JSONL_SUFFIXES = (".jsonl.gz", ".jsonl", ".gz")


def jsonl_stem(path: str | Path) -> str:
    """The file name without ``.jsonl`` / ``.jsonl.gz`` / ``.gz``: ``mmlu.jsonl.gz`` → ``mmlu``."""
    name = Path(path).name
    for suffix in JSONL_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def read_jsonl_bytes(path: str | Path, *, what: str = "JSONL") -> bytes:
    """The JSONL bytes of `path`, decompressed when its name ends in ``.gz``.

    `DatasetError` naming the file when it cannot be read or is not valid gzip.
    """
    p = Path(path)
    file = str(p)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DatasetError(
            [Problem(f"cannot read {what}: {e.strerror}", file=file, fix="check the path")]
        ) from None
    if p.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(
                [
                    Problem(
                        f"not a readable gzip file: {e}",
                        file=file,
                        fix="compress it again with `gzip -k FILE.jsonl`, or drop the .gz suffix",
                    )
                ]
            ) from None
    return data


def read_jsonl(
    path: str | Path,
    parse: RowParser[T],
    row_id: Callable[[T], str],
    *,
    what: str,
    id_field: str,
) -> tuple[bytes, list[T]]:
    """The file's (decompressed) bytes and parsed rows; `DatasetError` listing (up to 20) bad rows.

    `parse(obj, file, line)` turns one decoded JSON value into a row or problems; rows must
    have unique ids (`row_id`), named `id_field` in the messages.
    """
    file = str(Path(path))
    data = read_jsonl_bytes(path, what=what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(
            [Problem(f"not UTF-8 text: {e.reason}", file=file, fix="save the file as UTF-8")]
        ) from None
    rows: list[T] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            problems.append(
                Problem(
                    f"not valid JSON: {e.msg}",
                    file=file,
                    line=n,
                    column=e.colno,
                    fix="each line must be one complete JSON object",
                )
            )
        else:
            row, row_problems = parse(obj, file, n)
            problems.extend(row_problems)
            if row is not None:
                key = row_id(row)
                if key in seen:
                    problems.append(
                        Problem(
                            f"duplicate {id_field} {key!r} (first on line {seen[key]})",
                            file=file,
                            line=n,
                            path=id_field,
                            fix=f"{id_field}s must be unique",
                        )
                    )
                else:
                    seen[key] = n
                    rows.append(row)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise DatasetError(problems[:MAX_PROBLEMS])
    if not rows:
        raise DatasetError(
            [Problem(f"the {what} file has no rows", file=file, fix="add JSONL rows")]
        )
    return data, rows
