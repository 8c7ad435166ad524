"""Durable appends of two versions of phaseroute, paired round by round on a noisy machine.

Each round runs, in fresh subprocesses and in alternating order: a bare INSERT+COMMIT of a
row as large as a record with its content (the baseline), `append()` from one writer with
this version, and the same with the other version (`--before`, a `src` directory, e.g. from
`git archive <commit> src`); with --postgres also 4 writer processes of each version against
a bare PostgreSQL commit. Every figure is a ratio to the baseline of its own round; the
script prints the median and the quartiles of those ratios.

    python bench/bench_audit_ab.py --before /tmp/before/src [--rounds 15] [--appends 150]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SQLITE_FLOOR = """
import sqlite3, sys, time
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(path, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
body = "x" * size
t = time.perf_counter()
for _ in range(n):
    c.execute("BEGIN IMMEDIATE"); c.execute("INSERT INTO t (body) VALUES (?)", (body,))
    c.execute("COMMIT")
print(n / (time.perf_counter() - t))
"""

_APPEND = """
import sys, time
sys.path.insert(0, sys.argv[4])
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from phaseroute.audit import AuditTrail
location, n, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
entries = [sample_entry(i) for i in range(n)]
trail = AuditTrail.open(location, signing_key=Ed25519PrivateKey.generate())
trail.append(entries[0])
t = time.perf_counter()
for e in entries:
    trail.append(e)
rate = n / (time.perf_counter() - t)
trail.close()
print(rate)
"""

_GATED_APPEND = """
import os, sys, time
sys.path.insert(0, sys.argv[4])
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from phaseroute.audit import AuditTrail
location, n, gate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
entries = [sample_entry(i) for i in range(n)]
trail = AuditTrail.open(location, signing_key=Ed25519PrivateKey.generate())
trail.append(entries[0])
print("ready", flush=True)
while not os.path.exists(gate):
    time.sleep(0.005)
t = time.time()
for e in entries:
    trail.append(e)
print(t, time.time(), flush=True)
trail.close()
"""

_PG_FLOOR = """
import sys, time, psycopg
url, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with psycopg.connect(url) as c:
    c.execute("CREATE TABLE IF NOT EXISTS floor (seq bigserial PRIMARY KEY, body text)")
    c.commit()
    t = time.perf_counter()
    for _ in range(n):
        c.execute("INSERT INTO floor (body) VALUES (%s)", ("x" * size,)); c.commit()
    print(n / (time.perf_counter() - t))
"""


def _run(code: str, args: list[str], src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _pg_writers(url: str, n: int, k: int, src: Path, gate: Path) -> float:
    """k append processes released together once all are connected; appends per second
    from the first start to the last end."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    tests = str(ROOT / "tests" / "audit")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _GATED_APPEND, url, str(n), str(gate), tests],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(k)
    ]
    for p in procs:
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a writer process failed to start")
    gate.touch()
    spans = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError("a writer process failed")
        start, end = (float(x) for x in out.split())
        spans.append((start, end))
    gate.unlink()
    return k * n / (max(e for _, e in spans) - min(s for s, _ in spans))


def _quartiles(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return f"{q[1]:.2f}x (quartiles {q[0]:.2f}–{q[2]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the other version's src/")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--appends", type=int, default=150)
    parser.add_argument("--postgres", default=None, help="also 4 writer processes on this URL")
    args = parser.parse_args()
    after = ROOT / "src"
    tests = str(ROOT / "tests" / "audit")
    sys.path.insert(0, tests)
    sys.path.insert(0, str(after))
    from audit_samples import sample_entry

    from phaseroute.audit._codec import encode_record

    rec = encode_record(sample_entry(0), "2026-11-30T00:00:00.000000Z")
    size = len(rec.body) + len(rec.request_json or "") + len(rec.response_text or "") + 128
    ratios: dict[str, list[float]] = {"after": [], "before": [], "pg_after": [], "pg_before": []}
    floors: list[float] = []
    with tempfile.TemporaryDirectory(dir=ROOT) as d:
        tmp = Path(d)
        for r in range(args.rounds):
            versions = [("after", after), ("before", args.before)]
            if r % 2:
                versions.reverse()
            floor = _run(
                _SQLITE_FLOOR, [str(tmp / f"f{r}.db"), str(args.appends), str(size)], after
            )
            floors.append(floor)
            for name, src in versions:
                db = str(tmp / f"{name}{r}.db")
                rate = _run(_APPEND, [db, str(args.appends), "0", tests], src)
                ratios[name].append(rate / floor)
            if args.postgres:
                schema = f"ab_{uuid.uuid4().hex[:8]}"
                import psycopg

                with psycopg.connect(args.postgres, autocommit=True) as c:
                    c.execute(f'CREATE SCHEMA "{schema}"')
                url = f"{args.postgres}?options=-csearch_path%3D{schema}"
                try:
                    pg_floor = _run(_PG_FLOOR, [url, str(args.appends), str(size)], after)
                    for name, src in versions:
                        sub = f"{schema}_{name}"
                        with psycopg.connect(args.postgres, autocommit=True) as c:
                            c.execute(f'CREATE SCHEMA "{sub}"')
                        sub_url = f"{args.postgres}?options=-csearch_path%3D{sub}"
                        _run(_APPEND, [sub_url, "1", "0", tests], src)  # create and migrate
                        rate = _pg_writers(sub_url, args.appends // 2, 4, src, tmp / "gate")
                        ratios[f"pg_{name}"].append(rate / pg_floor)
                        with psycopg.connect(args.postgres, autocommit=True) as c:
                            c.execute(f'DROP SCHEMA "{sub}" CASCADE')
                finally:
                    with psycopg.connect(args.postgres, autocommit=True) as c:
                        c.execute(f'DROP SCHEMA "{schema}" CASCADE')
            print(
                f"round {r + 1}: floor {floor:.0f}/s, after {ratios['after'][-1]:.2f}x, "
                f"before {ratios['before'][-1]:.2f}x",
                flush=True,
            )
    print(
        f"SQLite, one writer calling append(), {args.appends} appends per run, "
        f"{args.rounds} paired rounds; baseline bare INSERT+COMMIT of {size} bytes "
        f"(median {statistics.median(floors):.0f}/s, range {min(floors):.0f}–{max(floors):.0f}):"
    )
    print(f"  this version   {_quartiles(ratios['after'])}")
    print(f"  --before       {_quartiles(ratios['before'])}")
    if args.postgres:
        print("PostgreSQL, 4 writer processes, against a bare 1-connection INSERT+COMMIT:")
        print(f"  this version   {_quartiles(ratios['pg_after'])}")
        print(f"  --before       {_quartiles(ratios['pg_before'])}")


if __name__ == "__main__":
    main()
