"""The public API is exactly what each package's ``__all__`` names, and all of it exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "phaseroute",
    "phaseroute.audit",
    "phaseroute.bench",
    "phaseroute.costs",
    "phaseroute.demo",
    "phaseroute.measure",
    "phaseroute.monitor",
    "phaseroute.policy",
    "phaseroute.providers",
    "phaseroute.runtime",
    "phaseroute.testing",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr!r}"


def test_importing_phaseroute_has_no_side_effects() -> None:
    import os

    before = set(os.listdir("."))
    importlib.reload(importlib.import_module("phaseroute"))
    assert set(os.listdir(".")) == before
