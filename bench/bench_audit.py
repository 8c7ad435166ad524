"""Audit trail throughput: durable appends per second and records verified per second.

Every figure has a baseline measured in the same run: for appends, a bare one-row
INSERT + COMMIT of a row as large as a record with its content, with the same durability
settings (the fsync floor of the disk); for verification, reading the rows alone. Append
variants run interleaved in slices of a few dozen appends (baseline, schema, one writer,
batches, threads, then again in a rotated order) for --seconds per store, and each ratio is
the median of the per-round ratios, so a disk whose speed drifts during the run (a shared
machine's does, by 10x within a minute) moves numerator and denominator together.

    python bench/bench_audit.py [--seconds 60] [--records 100000] [--postgres URL | --postgres '']
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "audit"))
from audit_samples import sample_entry

from phaseroute.audit import AuditTrail, trusted_keys, verify_store
from phaseroute.audit._codec import encode_record


def median_rate(n: int, fn: Callable[[], None], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def interleaved(
    steps: dict[str, Callable[[], int]], seconds: float
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Run each variant's step (one slice of work, returning how many appends it made) in
    turn, rotating the order, for about `seconds`; return each variant's overall rate and its
    per-slice rates. Slices last milliseconds, so a disk or neighbour whose speed drifts
    moves every variant alike."""
    names = list(steps)
    done = dict.fromkeys(names, 0)
    spent = dict.fromkeys(names, 0.0)
    slices: dict[str, list[float]] = {k: [] for k in names}
    end = time.perf_counter() + seconds
    turn = 0
    while time.perf_counter() < end or turn < 3:
        order = names[turn % len(names) :] + names[: turn % len(names)]
        for name in order:
            t = time.perf_counter()
            n = steps[name]()
            dt = time.perf_counter() - t
            done[name] += n
            spent[name] += dt
            slices[name].append(n / dt)
        turn += 1
    return {k: done[k] / spent[k] for k in names}, slices


def ratio_to(slices: dict[str, list[float]], name: str, base: str) -> float:
    """The median over rounds of (variant rate / baseline rate) in the same round."""
    return statistics.median(a / b for a, b in zip(slices[name], slices[base], strict=True))


class SqliteFloor:
    """Bare one-row INSERT + COMMIT of `size` bytes, WAL, synchronous=FULL."""

    def __init__(self, path: Path, size: int) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, body TEXT)")
        self.body = "x" * size

    def run(self, n: int) -> None:
        for _ in range(n):
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT INTO t (body) VALUES (?)", (self.body,))
            self.conn.execute("COMMIT")


class SchemaFloor:
    """append()'s own transaction (lock, head read, record, content, head move, commit) with
    the rows precomputed: what the schema costs on this disk with no Python work."""

    def __init__(self, path: Path, bodies: list[tuple[str, str, str]]) -> None:
        AuditTrail.open(path).close()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.bodies = bodies
        self.seq = 0

    def run(self, n: int) -> None:
        conn = self.conn
        for _ in range(n):
            self.seq += 1
            body, request, response = self.bodies[self.seq % len(self.bodies)]
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("SELECT last_seq, last_hash FROM audit_chain WHERE id = 1").fetchone()
            conn.execute(
                "INSERT INTO audit_records VALUES (?, ?, ?, ?)",
                (self.seq, "0" * 64, "1" * 64, body),
            )
            conn.execute(
                "INSERT INTO audit_content (seq, request, response) VALUES (?, ?, ?)",
                (self.seq, request, response),
            )
            conn.execute(
                "UPDATE audit_chain SET last_seq = ?, last_hash = ? WHERE id = 1",
                (self.seq, "1" * 64),
            )
            conn.execute("COMMIT")


def wal_frames_per_append(path: Path, entries: list) -> float:  # type: ignore[type-arg]
    """WAL frames (pages) one append() writes: the WAL's growth with checkpoints off."""
    trail = AuditTrail.open(path)
    trail.append(entries[0])
    held: Any = trail.store._held  # the store's kept writer connection
    held.driver_connection.execute("PRAGMA wal_autocheckpoint=0")
    page = held.driver_connection.execute("PRAGMA page_size").fetchone()[0]
    wal = Path(f"{path}-wal")
    before = wal.stat().st_size
    for e in entries[1:201]:
        trail.append(e)
    frames = (wal.stat().st_size - before) / (page + 24) / 200
    trail.close()
    return frames


def bench_sqlite(tmp: Path, key: Ed25519PrivateKey, n: int, seconds: float) -> None:
    entries = [sample_entry(i) for i in range(n)]
    rows = []
    for e in entries:
        rec = encode_record(e, "2026-11-27T00:00:00.000000Z")
        rows.append((rec.body, rec.request_json or "", rec.response_text or ""))
    size = len(rows[0][0]) + len(rows[0][1]) + len(rows[0][2]) + 2 * 64
    frames = wal_frames_per_append(tmp / "frames.db", entries)
    trail = AuditTrail.open(tmp / "single.db", signing_key=key)
    floor = SqliteFloor(tmp / "floor.db", size)
    schema = SchemaFloor(tmp / "schema.db", rows)
    k = 25  # appends per slice
    cursor = [0]

    def take(m: int) -> list:  # type: ignore[type-arg]
        start = cursor[0] % (n - m)
        cursor[0] += m
        return entries[start : start + m]

    def single() -> int:
        for e in take(k):
            trail.append(e)
        return k

    def batched() -> int:
        trail.append_many(take(100))
        return 100

    def threads() -> int:
        part = take(8 * k)

        def work(mine: list) -> None:  # type: ignore[type-arg]
            for e in mine:
                trail.append(e)

        ts = [threading.Thread(target=work, args=(part[t::8],)) for t in range(8)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        return 8 * k

    def run_floor() -> int:
        floor.run(k)
        return k

    def run_schema() -> int:
        schema.run(k)
        return k

    rates, slices = interleaved(
        {
            "floor": run_floor,
            "schema": run_schema,
            "single": single,
            "batch": batched,
            "threads": threads,
        },
        seconds,
    )
    trail.close()
    rounds = len(slices["floor"])
    print(
        f"SQLite (WAL, synchronous=FULL), {rounds} interleaved rounds in {seconds:.0f} s "
        f"(slices of {k} appends; ratio = median of per-round ratios), row size {size} bytes:"
    )
    print(f"  baseline: bare INSERT+COMMIT          {rates['floor']:9.0f} /s")
    for name, label in (
        ("schema", "append's SQL, rows precomputed       "),
        ("single", "append(), one writer                 "),
        ("batch", "append_many(100), one writer         "),
        ("threads", "append(), 8 threads (group commit)   "),
    ):
        print(f"  {label} {rates[name]:9.0f} /s  ({ratio_to(slices, name, 'floor'):.2f}x)")
    print(f"  WAL frames (pages) written per append(): {frames:.2f}")


def _pg_writer(url: str, key_bytes: bytes, orders: Any, ready: Any) -> None:
    """A writer process: appends `k` records each time the parent sends k (0 ends it)."""
    key = Ed25519PrivateKey.from_private_bytes(key_bytes)
    trail = AuditTrail.open(url, signing_key=key)
    entries = [sample_entry(i) for i in range(1000)]
    trail.append(entries[0])
    ready.put(1)
    i = 0
    while k := orders.get():
        for _ in range(k):
            trail.append(entries[i % 1000])
            i += 1
        ready.put(k)
    trail.close()


def bench_postgres(
    base: str, key: Ed25519PrivateKey, writers: int, size: int, seconds: float
) -> None:
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{base}?options=-csearch_path%3D{schema}"
    procs: list[multiprocessing.Process] = []
    try:
        conn = psycopg.connect(url)
        conn.execute("CREATE TABLE floor (seq bigserial PRIMARY KEY, body text)")
        conn.commit()
        AuditTrail.open(url).close()
        from cryptography.hazmat.primitives import serialization

        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        pools: dict[int, list[tuple[Any, Any]]] = {}
        for count in (1, writers):
            pools[count] = []
            for _ in range(count):
                orders: Any = multiprocessing.Queue()
                ready: Any = multiprocessing.Queue()
                p = multiprocessing.Process(target=_pg_writer, args=(url, raw, orders, ready))
                p.start()
                procs.append(p)
                pools[count].append((orders, ready))
        for pool in pools.values():
            for _, ready in pool:
                ready.get(timeout=60)
        k = 20

        def run_floor() -> int:
            body = "x" * size
            for _ in range(k):
                conn.execute("INSERT INTO floor (body) VALUES (%s)", (body,))
                conn.commit()
            return k

        def run_pool(count: int) -> Callable[[], int]:
            def run() -> int:
                for orders, _ in pools[count]:
                    orders.put(k)
                for _, ready in pools[count]:
                    ready.get(timeout=120)
                return k * count

            return run

        rates, slices = interleaved(
            {"floor": run_floor, "one": run_pool(1), "many": run_pool(writers)}, seconds
        )
        for pool in pools.values():
            for orders, _ in pool:
                orders.put(0)
        for p in procs:
            p.join(timeout=60)
        conn.close()
        trail = AuditTrail.open(url)
        report = trail.verify([key.public_key()], allow_uncovered=True)
        trail.close()
        assert report.ok, report.findings[:3]
        rounds = len(slices["floor"])
        print(
            f"PostgreSQL (synchronous_commit=on), {rounds} interleaved rounds in {seconds:.0f} s"
            f" (slices of {k} appends per writer; ratio = median of per-round ratios):"
        )
        print(f"  baseline: bare INSERT+COMMIT, 1 conn  {rates['floor']:9.0f} /s")
        print(
            f"  append(), 1 writer process            {rates['one']:9.0f} /s  "
            f"({ratio_to(slices, 'one', 'floor'):.2f}x)"
        )
        print(
            f"  append(), {writers} writer processes          {rates['many']:9.0f} /s  "
            f"({ratio_to(slices, 'many', 'floor'):.2f}x)"
        )
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench_verify(tmp: Path, key: Ed25519PrivateKey, n: int, repeats: int) -> None:
    trail = AuditTrail.open(tmp / "verify.db", signing_key=key)
    entries = [sample_entry(i) for i in range(1000)]
    for _ in range(n // 1000):
        trail.append_many(entries)
    trail.checkpoint()
    trusted = trusted_keys([key.public_key()])

    def read_only() -> None:
        with trail.store.snapshot() as snap:
            for _ in snap.records():
                pass

    def full() -> None:
        report = verify_store(trail.store, trusted)
        assert report.ok
        assert report.records == n

    def chain_only() -> None:
        assert verify_store(trail.store, trusted, check_content=False).ok

    base = median_rate(n, read_only, repeats)
    rate = median_rate(n, full, repeats)
    chain = median_rate(n, chain_only, repeats)
    proofs = _proof_times(trail, trusted, n)
    trail.close()
    print(f"Verification, {n} records on SQLite, median of {repeats}:")
    print(f"  baseline: read the rows only          {base:9.0f} /s")
    print(f"  verify (chain + checkpoints + content){rate:9.0f} /s  ({rate / base:.2f}x baseline)")
    print(f"  verify --no content (chain only)      {chain:9.0f} /s  ({chain / base:.2f}x)")
    if proofs is not None:
        prove_ms, check_ms, size = proofs
        print(
            f"  prove one record of {n} (median of 21): {prove_ms:.1f} ms; verify-proof "
            f"{check_ms:.2f} ms; proof file {size} bytes"
        )


def _proof_times(trail: AuditTrail, trusted: dict, n: int) -> tuple[float, float, int] | None:  # type: ignore[type-arg]
    try:
        from phaseroute.audit import prove_inclusion, verify_proof
    except ImportError:  # the version before Merkle proofs
        return None
    import json

    prove, check, sizes = [], [], []
    for seq in range(1, n, max(1, n // 21)):
        t = time.perf_counter()
        doc = prove_inclusion(trail.store, seq)
        prove.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert verify_proof(doc, trusted).ok
        check.append(time.perf_counter() - t)
        sizes.append(len(json.dumps(doc)))
    return (
        statistics.median(prove) * 1000,
        statistics.median(check) * 1000,
        int(statistics.median(sizes)),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=2000, help="distinct entries to append")
    parser.add_argument("--seconds", type=float, default=60, help="per store, interleaved")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite appends")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.no_sqlite:
            bench_sqlite(tmp, key, args.appends, args.seconds)
        rec = encode_record(sample_entry(0), "2026-11-27T00:00:00.000000Z")
        size = len(rec.body) + len(rec.request_json or "") + len(rec.response_text or "") + 128
        if args.postgres:
            bench_postgres(args.postgres, key, args.writers, size, args.seconds)
        if args.records:
            bench_verify(tmp, key, args.records, args.repeats)


if __name__ == "__main__":
    main()
