"""The kinds mapping of the "intuition" baseline: a YAML file of ``phase: kind`` lines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import yaml

from phaseroute.errors import Problem, RequestError
from phaseroute.policy import Kind

_KINDS = ", ".join(k.value for k in Kind)


def read_kinds(path: str | Path) -> Mapping[str, Kind]:
    """Read ``phase: kind`` pairs; every mistake names the file, line and phase."""
    p = Path(path)
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise RequestError(
            [Problem(f"cannot read the kinds mapping: {reason}", file=file, fix="check the path")]
        ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RequestError(
            [
                Problem(
                    f"not valid YAML: {getattr(e, 'problem', None) or e}",
                    file=file,
                    line=mark.line + 1 if mark is not None else None,
                    fix="write one `phase: kind` pair per line",
                )
            ]
        ) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise RequestError(
            [
                Problem(
                    "the kinds mapping must be a YAML mapping of phase names to kinds",
                    file=file,
                    line=root.start_mark.line + 1 if root is not None else None,
                    fix="e.g. `professional_law: interpretation`",
                )
            ]
        )
    out: dict[str, Kind] = {}
    problems: list[Problem] = []
    for key, value in root.value:
        line = key.start_mark.line + 1
        if not isinstance(key, yaml.ScalarNode) or not isinstance(value, yaml.ScalarNode):
            problems.append(
                Problem("each entry must be `phase: kind`", file=file, line=line, fix=_KINDS)
            )
            continue
        phase = str(key.value)
        if phase in out:
            problems.append(
                Problem(f"phase {phase!r} is mapped twice", file=file, line=line, path=phase)
            )
            continue
        try:
            out[phase] = Kind(value.value)
        except ValueError:
            problems.append(
                Problem(
                    f"unknown kind {value.value!r}",
                    file=file,
                    line=value.start_mark.line + 1,
                    path=phase,
                    fix=f"use one of: {_KINDS}",
                )
            )
    if problems:
        raise RequestError(problems)
    return MappingProxyType(out)
