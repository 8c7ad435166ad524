"""The reference pass over a policy whose schema pass failed, so `check` reports everything
in one run.

What the schema rejected is set aside, as narrowly as possible: an unknown key is dropped; a
bad optional value falls back to its default; an entry (a model, a phase, a list item) whose
required value is bad is dropped whole and its name remembered, so a reference to it is not
reported again. What is left is validated again and cross-checked as usual. A problem at a
path the schema pass already reported is not repeated. When nothing sensible is left (say
`tiers` itself is unreadable), there is no reference pass.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from phaseroute.errors import Problem
from phaseroute.policy._lint import lint_policy
from phaseroute.policy._loader import LoadedPolicy, PathKey, SourceMap, data_path
from phaseroute.policy._schema import Policy

_ROUNDS = 8
_DROPPED = object()


def reference_problems(
    data: dict[str, Any],
    errors: Sequence[ErrorDetails],
    source: SourceMap,
    reported: Sequence[Problem],
    loaded_path: Any = None,
) -> list[Problem]:
    """Cross-reference problems of what can still be read of `data`, minus those at a path
    the schema problems `reported` already name."""
    work = copy.deepcopy(data)
    unreadable: set[str] = set()
    current = list(errors)
    for _ in range(_ROUNDS):
        if not _repair(work, current, unreadable):
            return []
        try:
            policy = Policy.model_validate(work)
        except ValidationError as e:
            current = e.errors(include_url=False)
            continue
        break
    else:
        return []
    result = lint_policy(LoadedPolicy(policy, source, loaded_path), frozenset(unreadable))
    taken = [p.path for p in reported if p.path]
    return [p for p in result.errors if not any(_under(p.path, t) for t in taken)]


def _under(path: str | None, prefix: str) -> bool:
    if path is None:
        return False
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _repair(data: dict[str, Any], errors: Sequence[ErrorDetails], unreadable: set[str]) -> bool:
    """Set aside what each error names; False when an error cannot be set aside."""
    for err in errors:
        path = data_path(data, err["loc"])
        if err["type"] == "extra_forbidden":
            if not _drop(data, path, unreadable, whole=False):
                return False
            continue
        if not _set_aside(data, path, unreadable):
            return False
    _compact(data)
    return True


def _set_aside(data: dict[str, Any], path: PathKey, unreadable: set[str]) -> bool:
    """Drop the narrowest thing around `path` the schema can do without."""
    for end in range(len(path), 0, -1):
        key, parent_path = path[end - 1], path[: end - 1]
        owner = _field_owner(data, parent_path)
        if isinstance(key, str) and owner is not None:
            info = owner.model_fields.get(key) or _by_alias(owner, key)
            if info is not None and not info.is_required():
                return _drop(data, path[:end], unreadable, whole=False)
            continue  # a required field: set aside what holds it
        if owner is None and parent_path:
            # `key` is an entry of a mapping or a list (a model, a phase, a tier, ...)
            return _drop(data, path[:end], unreadable, whole=True)
    return False


def _by_alias(model: type[BaseModel], key: str) -> FieldInfo | None:
    return next((f for f in model.model_fields.values() if f.alias == key), None)


def _field_owner(data: dict[str, Any], path: PathKey) -> type[BaseModel] | None:
    """The model whose fields are the keys at `path`, or None for a mapping or list of
    entries (or anything unreadable)."""
    current: Any = Policy
    node: Any = data
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part)) or _by_alias(current, str(part))
            if info is None:
                return None
            current = info.annotation
        else:
            current = _entry_type(current)
        node = node.get(part) if isinstance(node, dict) else _item(node, part)
        current = _pick(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _item(node: Any, part: str | int) -> Any:
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _entry_type(annotation: Any) -> Any:
    """The value type of dict[K, V] / list[V] (through Optional and Annotated)."""
    args = getattr(annotation, "__args__", ())
    origin = getattr(annotation, "__origin__", None)
    if origin in (dict, list) and args:
        return args[-1]
    for arg in args:
        inner = _entry_type(arg)
        if inner is not None:
            return inner
    return None


def _pick(annotation: Any, node: Any) -> Any:
    """The model `node` validates as: the right member of a tagged union, Optional, ..."""
    if isinstance(annotation, type):
        return annotation
    meta = getattr(annotation, "__metadata__", None)
    if meta is not None:
        return _pick(annotation.__origin__, node)
    members = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1 and len(members) == 1:
        return models[0]
    tag = node.get("type") if isinstance(node, dict) else None
    for m in models:
        field = m.model_fields.get("type")
        if field is not None and tag in getattr(field.annotation, "__args__", ()):
            return m
    return annotation


def _drop(data: dict[str, Any], path: PathKey, unreadable: set[str], *, whole: bool) -> bool:
    node: Any = data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else _item(node, part)
        if node is None:
            return True  # already set aside
    last = path[-1]
    if isinstance(node, dict) and last in node:
        if whole:
            unreadable.add(str(last))
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        if whole and isinstance(node[last], str):
            unreadable.add(node[last])
        node[last] = _DROPPED  # removed by _compact, so later indexes still hold
        return True
    return not path or isinstance(node, dict | list)


def _compact(node: Any) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _compact(value)
    elif isinstance(node, list):
        node[:] = [v for v in node if v is not _DROPPED]
        for value in node:
            _compact(value)
