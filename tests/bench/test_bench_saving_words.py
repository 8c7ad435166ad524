"""The replay benchmark never prints a negative saving as a saving."""

from __future__ import annotations

import pytest

from phaseroute.bench._render import saving_pct


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.25, "25.0%"), (0.0, "0.0%"), (-0.125, "12.5% more"), (-2.0, "200.0% more")],
)
def test_saving_pct(value: float, text: str) -> None:
    assert saving_pct(value) == text
