"""The measurement package's public API is exactly its ``__all__``, and all of it exists."""

from __future__ import annotations

from phaseroute import measure


def test_measure_exports_exist() -> None:
    assert len(measure.__all__) == len(set(measure.__all__))
    missing = [name for name in measure.__all__ if not hasattr(measure, name)]
    assert missing == []
    for name in ("run_measurement", "read_labelled", "ResponseCache", "write_reports"):
        assert name in measure.__all__
