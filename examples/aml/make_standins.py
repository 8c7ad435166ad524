"""Rebuild data/mmlu_standins.jsonl: the recorded MMLU rows of the stand-in subjects.

    python examples/aml/make_standins.py examples/mmlu/mmlu.jsonl.gz

Copies the rows of every subject named in standins.yaml, unchanged, so the demo runs on a
fresh clone with no other data. Provenance and licences: data/NOTICE.md.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def main(source: str) -> None:
    mapping = yaml.safe_load((HERE / "standins.yaml").read_text(encoding="utf-8"))
    subjects = {s for phases in mapping.values() for subs in phases.values() for s in subs}
    out = HERE / "data" / "mmlu_standins.jsonl"
    kept = 0
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            if json.loads(line)["phase"] in subjects:
                dst.write(line)
                kept += 1
    print(f"wrote {kept} rows of {len(subjects)} subjects to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
