"""The providers and testing packages export their `__all__`; providers stay below the policy."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import phaseroute.providers
import phaseroute.testing.upstream

PACKAGES = ["phaseroute.providers", "phaseroute.testing", "phaseroute.testing.upstream"]
ABOVE = ("phaseroute.policy", "phaseroute.runtime", "phaseroute.cli", "phaseroute.measure")


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_unique(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr!r}"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", [phaseroute.providers, phaseroute.testing.upstream])
def test_providers_and_upstream_never_import_the_layers_above(package: object) -> None:
    root = Path(getattr(package, "__file__", "")).parent
    files = sorted(root.glob("*.py"))
    assert files
    for path in files:
        bad = {name for name in _imports(path) if name.startswith(ABOVE)}
        assert not bad, f"{path.name} imports {bad}"
