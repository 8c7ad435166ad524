"""Durable appends of two versions of phaseroute, interleaved slice by slice on a noisy machine.

Standing worker processes, each told over a pipe to do a slice of work and report its time:
a bare INSERT+COMMIT of a row as large as a record with its content (the baseline),
`append()` from one writer with this version, and the same with the other version
(`--before`, a `src` directory, e.g. from `git archive <commit> src`); with --postgres also
a bare PostgreSQL commit and 4 writer processes of each version. Slices of a few dozen
appends run in a rotating order, so a disk whose speed moves by 10x within a minute (a
shared machine's does) moves every variant alike. Every figure is a ratio to the baseline
slice of its own round; the script prints the median and quartiles of those ratios.

    python bench/bench_audit_ab.py --before /tmp/before/src [--seconds 60] [--postgres URL]
        [--dir /dev/shm]

`--dir` puts the SQLite files elsewhere: on a tmpfs such as /dev/shm a commit's fsync costs
nothing, so the figures show the CPU each version spends per append (the disk's speed, which
on a shared machine can hide it entirely, drops out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each worker reads a number k per line, does k appends (or bare commits), prints seconds.
_SQLITE_FLOOR = """
import sqlite3, sys, time
path, size = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(path, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
body = "x" * size
print("ready", flush=True)
for line in sys.stdin:
    t = time.perf_counter()
    for _ in range(int(line)):
        c.execute("BEGIN IMMEDIATE"); c.execute("INSERT INTO t (body) VALUES (?)", (body,))
        c.execute("COMMIT")
    print(time.perf_counter() - t, flush=True)
"""

# The least a Python append that encodes its record can cost: this version's canonical
# encoding (body, SHA-256, content) and one INSERT+COMMIT of it — no chain, no head.
_SQLITE_ENCODED = """
import sqlite3, sys, time
sys.path.insert(0, sys.argv[2])
from audit_samples import sample_entry
from phaseroute.audit._codec import encode_record
from phaseroute.audit._schema import now_iso
entries = [sample_entry(i) for i in range(1000)]
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body, sha, request, response)")
print("ready", flush=True)
i = 0
for line in sys.stdin:
    t = time.perf_counter()
    for _ in range(int(line)):
        r = encode_record(entries[i % 1000], now_iso()); i += 1
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO t (body, sha, request, response) VALUES (?, ?, ?, ?)",
                  (r.body, r.body_sha256, r.request_json, r.response_text))
        c.execute("COMMIT")
    print(time.perf_counter() - t, flush=True)
"""

_PG_FLOOR = """
import sys, time, psycopg
url, size = sys.argv[1], int(sys.argv[2])
c = psycopg.connect(url)
c.execute("CREATE TABLE IF NOT EXISTS floor (seq bigserial PRIMARY KEY, body text)")
c.commit()
body = "x" * size
print("ready", flush=True)
for line in sys.stdin:
    t = time.perf_counter()
    for _ in range(int(line)):
        c.execute("INSERT INTO floor (body) VALUES (%s)", (body,)); c.commit()
    print(time.perf_counter() - t, flush=True)
"""

_APPEND = """
import sys, time
sys.path.insert(0, sys.argv[2])
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from phaseroute.audit import AuditTrail
entries = [sample_entry(i) for i in range(1000)]
trail = AuditTrail.open(sys.argv[1], signing_key=Ed25519PrivateKey.generate())
trail.append(entries[0])
print("ready", flush=True)
i = 0
for line in sys.stdin:
    t = time.perf_counter()
    for _ in range(int(line)):
        trail.append(entries[i % 1000]); i += 1
    print(time.perf_counter() - t, flush=True)
trail.close()
"""


class Worker:
    """A standing process that does k operations on request."""

    def __init__(self, code: str, args: list[str], src: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(src)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            raise RuntimeError(f"a worker failed to start: {args}")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def send(self, k: int) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{k}\n")
        self.proc.stdin.flush()

    def wait(self) -> float:
        return float(self._line())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _slice(workers: list[Worker], k: int) -> float:
    """k operations on every worker at once; the rate over the wall time of the slice."""
    t = time.perf_counter()
    for w in workers:
        w.send(k)
    for w in workers:
        w.wait()
    return k * len(workers) / (time.perf_counter() - t)


def _quartiles(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return f"{q[1]:.2f}x (quartiles {q[0]:.2f}–{q[2]:.2f})"


def _new_schema(base: str) -> tuple[str, str]:
    import psycopg

    schema = f"ab_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{base}?options=-csearch_path%3D{schema}"


def _drop_schemas(base: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as c:
        for schema in schemas:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the other version's src/")
    parser.add_argument("--seconds", type=float, default=60, help="per store")
    parser.add_argument("--slice", type=int, default=25, help="appends per slice and writer")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--postgres", default=None, help="also PostgreSQL on this URL")
    parser.add_argument("--dir", type=Path, default=ROOT, help="where the SQLite files go")
    args = parser.parse_args()
    after = ROOT / "src"
    tests = str(ROOT / "tests" / "audit")
    sys.path.insert(0, tests)
    sys.path.insert(0, str(after))
    from audit_samples import sample_entry

    from phaseroute.audit._codec import encode_record

    rec = encode_record(sample_entry(0), "2026-11-30T00:00:00.000000Z")
    size = len(rec.body) + len(rec.request_json or "") + len(rec.response_text or "") + 128
    versions = {"after": after, "before": args.before}
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        tmp = Path(d)
        groups = {
            "floor": [Worker(_SQLITE_FLOOR, [str(tmp / "floor.db"), str(size)], after)],
            "encoded": [Worker(_SQLITE_ENCODED, [str(tmp / "encoded.db"), tests], after)],
        }
        for name, src in versions.items():
            groups[name] = [Worker(_APPEND, [str(tmp / f"{name}.db"), tests], src)]
        _report("SQLite, one writer calling append()", _rounds(groups, args), size)
        for ws in groups.values():
            for w in ws:
                w.close()
        if not args.postgres:
            return
        schemas: list[str] = []
        try:
            schema, url = _new_schema(args.postgres)
            schemas.append(schema)
            pg = {"floor": [Worker(_PG_FLOOR, [url, str(size)], after)]}
            for name, src in versions.items():
                schema, url = _new_schema(args.postgres)
                schemas.append(schema)
                first = Worker(_APPEND, [url, tests], src)  # creates and migrates the schema
                rest = [Worker(_APPEND, [url, tests], src) for _ in range(args.writers - 1)]
                pg[name] = [first, *rest]
            _report(
                f"PostgreSQL, {args.writers} writer processes calling append(), against a bare "
                "1-connection INSERT+COMMIT",
                _rounds(pg, args),
                size,
            )
            for ws in pg.values():
                for w in ws:
                    w.close()
        finally:
            _drop_schemas(args.postgres, schemas)


def _rounds(groups: dict[str, list[Worker]], args: argparse.Namespace) -> dict[str, list[float]]:
    names = list(groups)
    rates: dict[str, list[float]] = {k: [] for k in names}
    end = time.perf_counter() + args.seconds
    turn = 0
    while time.perf_counter() < end or turn < 3:
        order = names[turn % len(names) :] + names[: turn % len(names)]
        for name in order:
            rates[name].append(_slice(groups[name], args.slice))
        turn += 1
    return rates


def _report(title: str, rates: dict[str, list[float]], size: int) -> None:
    floors = rates["floor"]
    print(
        f"{title}; {len(floors)} interleaved rounds; baseline of {size} bytes per row "
        f"(median {statistics.median(floors):.0f}/s, range {min(floors):.0f}–{max(floors):.0f}):"
    )
    labels = [
        ("encoded", "encode + bare commit"),
        ("after", "this version"),
        ("before", "--before"),
    ]
    for name, label in labels:
        if name not in rates:
            continue
        ratios = [r / f for r, f in zip(rates[name], floors, strict=True)]
        print(f"  {label:20} {statistics.median(rates[name]):7.0f}/s  {_quartiles(ratios)}")
    paired = [a / b for a, b in zip(rates["after"], rates["before"], strict=True)]
    print(f"  this version ÷ --before, same round: {_quartiles(paired)}")


if __name__ == "__main__":
    main()
