"""Reads a policy file into `Policy`, keeping where every key sits in the file.

YAML syntax errors, duplicate keys, unknown keys and wrong types all become `PolicyError`s
that name the file, line, column and dotted path, and say how to fix the mistake.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor

from phaseroute.errors import PolicyError, Problem
from phaseroute.policy._schema import Policy

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class SourceMap:
    """Line and column (1-based) of every key and item of a loaded YAML document."""

    file: str
    positions: Mapping[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int]) -> tuple[int | None, int | None]:
        """Position of `path`, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return self.positions.get((), (None, None))

    def problem(self, path: Sequence[str | int], message: str, fix: str | None = None) -> Problem:
        line, column = self.locate(path)
        return Problem(
            message, file=self.file, line=line, column=column, path=dotted(path), fix=fix
        )


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with its origin: what the compiler works on."""

    policy: Policy
    source: SourceMap
    path: Path | None


def dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(document)"


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, path: PathKey, node: yaml.Node, first: yaml.Node) -> None:
        super().__init__(path)
        self.path, self.node, self.first = path, node, first


_KEY_LINE = re.compile(r"^([ \t]*)(?:-[ \t]+)?([^\s#:'\"][^:#]*?)[ \t]*:(?:[ \t]|$)")


def _path_near(lines: Sequence[str], index: int) -> str | None:
    """The dotted path of the keys enclosing line `index` (0-based), read off indentation.

    Used where the YAML does not parse, so there is no tree to ask: a best effort that
    names where the broken line sits (e.g. ``workflows.aml.phases``).
    """
    if not 0 <= index < len(lines):
        return None
    current = lines[index]
    limit = len(current) - len(current.lstrip(" \t"))
    own = _KEY_LINE.match(current)
    keys = [own.group(2)] if own else []
    for i in range(index - 1, -1, -1):
        m = _KEY_LINE.match(lines[i])
        if m and len(m.group(1)) < limit:
            keys.insert(0, m.group(2))
            limit = len(m.group(1))
            if limit == 0:
                break
    return ".".join(keys) or None


def _plain(
    node: yaml.Node,
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    scalars: SafeConstructor,
) -> Any:
    """Convert a composed YAML node tree to plain data, recording every key's position."""
    if isinstance(node, yaml.MappingNode):
        scalars.flatten_mapping(node)  # resolves `<<` merge keys
        out: dict[str, Any] = {}
        firsts: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.MarkedYAMLError(
                    problem="a mapping key must be a plain value",
                    problem_mark=key_node.start_mark,
                )
            key = str(scalars.construct_object(key_node, deep=True))
            if key in firsts:
                raise _DuplicateKey((*path, key), key_node, firsts[key])
            firsts[key] = key_node
            child = (*path, key)
            positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _plain(value_node, child, positions, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, value_node in enumerate(node.value):
            child = (*path, i)
            positions[child] = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
            items.append(_plain(value_node, child, positions, scalars))
        return items
    return scalars.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML text into plain data plus a source map; syntax errors become problems.

    libyaml (PyYAML's C loader) does the parsing; duplicate keys, which YAML forbids but
    PyYAML would accept, are rejected here.
    """
    positions: dict[PathKey, tuple[int, int]] = {(): (1, 1)}
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = None if root is None else _plain(root, (), positions, SafeConstructor())
    except _DuplicateKey as d:
        mark = d.node.start_mark
        raise PolicyError(
            [
                Problem(
                    f"duplicate key {d.path[-1]!r} (first on line {d.first.start_mark.line + 1})",
                    file=file,
                    line=mark.line + 1,
                    column=mark.column + 1,
                    path=dotted(d.path),
                    fix="each key may appear once in a mapping: remove or rename the duplicate",
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        detail = (e.problem or e.context or "invalid YAML").strip()
        where = mark
        if e.context and "flow" in e.context and e.context_mark and mark is not None:
            # an unclosed [ or { is noticed lines later: point at where it was opened too
            where = e.context_mark
            if where.line != mark.line:
                detail += f" ({e.context.strip()} opened on line {where.line + 1})"
        fix = "fix the YAML syntax at this position"
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line]:
            fix = "YAML does not allow tabs for indentation: indent with spaces"
        raise PolicyError(
            [
                Problem(
                    f"YAML syntax error: {detail}",
                    file=file,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                    path=_path_near(lines, where.line) if where else None,
                    fix=fix,
                )
            ]
        ) from None
    except yaml.YAMLError as e:
        raise PolicyError([Problem(f"YAML error: {e}", file=file, fix="fix the YAML")]) from None
    return data, SourceMap(file, positions)


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names (aliases) allowed at the parent of an unknown key, for suggestions."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        if part not in fields:
            # a dict key (workflow/phase name) or a union tag: stay on the value type
            continue
        current = _unwrap(fields[part].annotation)
    fields = getattr(current, "model_fields", None)
    if not fields:
        return []
    return sorted(info.alias or name for name, info in fields.items())


def _unwrap(annotation: Any) -> Any:
    """The model class inside Optional[...], dict[str, ...], list[...] if any."""
    args = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if args:
        for arg in reversed(args):
            inner = _unwrap(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return annotation


def data_path(data: Any, loc: Sequence[str | int]) -> PathKey:
    """Drop the union tags pydantic inserts into `loc`, keeping only real document keys."""
    out: list[str | int] = []
    node: Any = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                node = node[part]
            elif node.get("type") == part:
                continue  # the tag of a tagged union, not a key of the document
            else:
                node = None  # a missing or unknown key: keep it, it names the problem
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        else:
            out.append(part)
            node = None
    return tuple(out)


# Numeric bounds from the schema, said as what to write.
_BOUNDS = {
    "finite_number": "a finite number (not .inf or .nan)",
    "greater_than": "a number greater than {gt}",
    "greater_than_equal": "a number of at least {ge}",
    "less_than": "a number less than {lt}",
    "less_than_equal": "a number of at most {le}",
}


def _describe(err: ErrorDetails, data: Any, source: SourceMap) -> Problem:
    loc = err["loc"]
    path = data_path(data, loc)
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(Policy, path)
        key = str(path[-1]) if path else "?"
        close = difflib.get_close_matches(key, allowed, n=1)
        fix = f"did you mean {close[0]!r}?" if close else "remove it"
        if allowed:
            fix += f" (allowed here: {', '.join(allowed)})"
        return source.problem(path, f"unknown key {key!r}", fix)
    if kind == "missing":
        key = str(path[-1]) if path else "?"
        fix = f"add {key!r}"
        if key == "catastrophic_error":
            fix = (
                "add catastrophic_error: missed_risk (a false negative on a high-stakes "
                "judgment) or throughput (too slow / too expensive at scale)"
            )
        return source.problem(path, f"missing required key {key!r}", fix)
    if kind in ("literal_error", "enum"):
        expected = err.get("ctx", {}).get("expected", "")
        return source.problem(path, f"{given!r} is not allowed", f"use one of {expected}")
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        tag = err.get("ctx", {}).get("tag", given)
        return source.problem(path, f"unknown type {tag!r}", f"use type: one of {expected}")
    if kind == "union_tag_not_found":
        return source.problem(path, "missing 'type'", "add a 'type' key naming the kind")
    if kind == "string_pattern_mismatch":
        field_name = str(path[-1]) if path else ""
        if field_name in ("api_key", "signing_key"):
            fix = "name the secret's location, e.g. env:ANTHROPIC_API_KEY — never the secret"
        elif field_name == "function":
            fix = "write module:function, e.g. mypkg.checks:valid_alert"
        elif path and path[0] == "aliases":
            fix = 'write PATTERN: WORKFLOW/PHASE, e.g. "claude-opus-*": coding/planning'
        else:
            fix = "use letters, digits, '_', '-' or '.', starting with a letter or digit"
        return source.problem(path, f"{given!r} is not a valid value here", fix)
    if kind in _BOUNDS:
        want = _BOUNDS[kind].format(**err.get("ctx", {}))
        return source.problem(
            path, f"{given!r} is not allowed here: it must be {want}", f"write {want}"
        )
    if kind == "too_short":
        return source.problem(path, err["msg"].replace("List", "list"), "add the missing entries")
    type_names = {
        "dict_type": "a mapping (key: value)",
        "list_type": "a list",
        "string_type": "a string",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "float_type": "a number",
        "float_parsing": "a number",
        "decimal_parsing": "a number",
        "decimal_type": "a number",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "model_type": "a mapping (key: value)",
        "model_attributes_type": "a mapping (key: value)",
    }
    if kind in type_names:
        shown = type(given).__name__ if isinstance(given, dict | list) else repr(given)
        return source.problem(
            path, f"expected {type_names[kind]}, got {shown}", f"write {type_names[kind]} here"
        )
    return source.problem(path, err["msg"], "correct this value")


def load_policy_text(text: str, file: str = "<policy>", path: Path | None = None) -> LoadedPolicy:
    """Parse and validate policy text. Raises `PolicyError` listing every problem found."""
    data, source = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise PolicyError(
            [
                Problem(
                    "a policy must be a YAML mapping (version, tiers, providers, models, "
                    "workflows)",
                    file=file,
                    line=1,
                    column=1,
                    fix="start from examples/aml/phaseroute.yaml",
                )
            ]
        )
    try:
        policy = Policy.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        problems = _dedupe([_describe(err, data, source) for err in errors])
        # Imported here: the reference pass builds on this module (and on the lint).
        from phaseroute.policy._partial import reference_problems  # noqa: PLC0415

        problems += reference_problems(data, errors, source, problems, path)
        raise PolicyError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0))) from None
    return LoadedPolicy(policy, source, path)


def _dedupe(problems: Sequence[Problem]) -> list[Problem]:
    seen: set[tuple[str | None, str]] = set()
    out = []
    for p in problems:
        key = (p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def load_policy(path: str | Path) -> LoadedPolicy:
    """Read and validate the policy file at `path`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            [Problem(f"no such policy file: {p}", file=str(p), fix="check the path")]
        ) from None
    except IsADirectoryError:
        raise PolicyError(
            [Problem(f"{p} is a directory", file=str(p), fix="name the policy YAML file")]
        ) from None
    except UnicodeDecodeError as e:
        raise PolicyError(
            [Problem(f"not UTF-8 text: {e.reason}", file=str(p), fix="save the file as UTF-8")]
        ) from None
    except OSError as e:
        raise PolicyError([Problem(f"cannot read: {e.strerror}", file=str(p))]) from None
    return load_policy_text(text, file=str(p), path=p)
