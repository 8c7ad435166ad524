"""Paths the tests share: the repository, the shared recorded data, the AML example."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "recorded"
MMLU = SHARED_DATA / "mmlu.jsonl"
AML_POLICY = ROOT / "examples" / "aml" / "phaseroute.yaml"
