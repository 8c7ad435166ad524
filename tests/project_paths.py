"""Paths the tests share: the repository, the shipped recorded data, the AML example."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MMLU = ROOT / "examples" / "mmlu" / "mmlu.jsonl.gz"  # shipped with the project (see its README)
AML_POLICY = ROOT / "examples" / "aml" / "phaseroute.yaml"
