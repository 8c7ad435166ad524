"""Audit trail throughput: durable appends per second and records verified per second.

Every figure has a baseline measured in the same run: for appends, a bare one-row
INSERT + COMMIT of a row as large as a record with its content, with the same durability
settings (the fsync floor of the disk); for verification, reading the rows alone. SQLite
variants run interleaved (baseline, schema, one writer, batches, threads, then again), and
each ratio is the median of the per-round ratios, so a disk whose speed drifts during the
run moves numerator and denominator together.

    python bench/bench_audit.py [--records 100000] [--postgres postgresql://postgres@127.0.0.1:5432/test]
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


def sqlite_floor(path: Path, n: int, size: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, body TEXT)")
    body = "x" * size
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
    conn.close()


def schema_floor(path: Path, bodies: list[tuple[str, str, str]]) -> None:
    """append()'s own transaction (lock, head read, record, content, head move, commit) with
    the rows precomputed: what the schema costs on this disk with no Python work."""
    AuditTrail.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for seq, (body, request, response) in enumerate(bodies, 1):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT last_seq, last_hash FROM audit_chain WHERE id = 1").fetchone()
        conn.execute(
            "INSERT INTO audit_records VALUES (?, ?, ?, ?)", (seq, "0" * 64, "1" * 64, body)
        )
        conn.execute(
            "INSERT INTO audit_content (seq, request, response) VALUES (?, ?, ?)",
            (seq, request, response),
        )
        conn.execute(
            "UPDATE audit_chain SET last_seq = ?, last_hash = ? WHERE id = 1", (seq, "1" * 64)
        )
        conn.execute("COMMIT")
    conn.close()


def bench_sqlite(tmp: Path, key: Ed25519PrivateKey, n: int, repeats: int) -> None:
    entries = [sample_entry(i) for i in range(n)]
    rows = []
    for e in entries:
        rec = encode_record(e, "2026-11-27T00:00:00.000000Z")
        rows.append((rec.body, rec.request_json or "", rec.response_text or ""))
    size = len(rows[0][0]) + len(rows[0][1]) + len(rows[0][2]) + 2 * 64
    trail = AuditTrail.open(tmp / "single.db", signing_key=key)

    def single() -> None:
        for e in entries:
            trail.append(e)

    def batched() -> None:
        for i in range(0, n, 100):
            trail.append_many(entries[i : i + 100])

    def threads() -> None:
        def work(part: list) -> None:  # type: ignore[type-arg]
            for e in part:
                trail.append(e)

        ts = [threading.Thread(target=work, args=(entries[t::8],)) for t in range(8)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()

    variants: dict[str, Callable[[], None]] = {
        "floor": lambda: sqlite_floor(tmp / f"floor-{uuid.uuid4().hex}.db", n, size),
        "schema": lambda: schema_floor(tmp / f"schema-{uuid.uuid4().hex}.db", rows),
        "single": single,
        "batch": batched,
        "threads": threads,
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            rates[name].append(median_rate(n, fn, 1))
    trail.close()

    def ratio(name: str) -> float:
        return statistics.median(r / f for r, f in zip(rates[name], rates["floor"], strict=True))

    med = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"SQLite (WAL, synchronous=FULL), {n} appends, {repeats} interleaved rounds "
        f"(medians; ratio = median of per-round ratios), row size {size} bytes:"
    )
    print(f"  baseline: bare INSERT+COMMIT          {med['floor']:9.0f} /s")
    print(
        f"  append's SQL, rows precomputed        {med['schema']:9.0f} /s  ({ratio('schema'):.2f}x)"
    )
    print(
        f"  append(), one writer                  {med['single']:9.0f} /s  "
        f"({ratio('single'):.2f}x baseline)"
    )
    print(
        f"  append_many(100), one writer          {med['batch']:9.0f} /s  ({ratio('batch'):.2f}x)"
    )
    print(
        f"  append(), 8 threads (group commit)    {med['threads']:9.0f} /s  "
        f"({ratio('threads'):.2f}x)"
    )


def _pg_writer(url: str, n: int, key_bytes: bytes, start: multiprocessing.Barrier) -> None:  # type: ignore[type-arg]
    key = Ed25519PrivateKey.from_private_bytes(key_bytes)
    trail = AuditTrail.open(url, signing_key=key)
    entries = [sample_entry(i) for i in range(n)]
    start.wait()
    for e in entries:
        trail.append(e)
    trail.close()


def bench_postgres(base: str, key: Ed25519PrivateKey, n: int, writers: int, size: int) -> None:
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{base}?options=-csearch_path%3D{schema}"
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE floor (seq bigserial PRIMARY KEY, body text)")
            conn.commit()
            t = time.perf_counter()
            for _ in range(n):
                conn.execute("INSERT INTO floor (body) VALUES (%s)", ("x" * size,))
                conn.commit()
            floor = n / (time.perf_counter() - t)
        AuditTrail.open(url).close()
        from cryptography.hazmat.primitives import serialization

        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        rates = {}
        for k in (1, writers):
            barrier = multiprocessing.Barrier(k + 1)
            procs = [
                multiprocessing.Process(target=_pg_writer, args=(url, n, raw, barrier))
                for _ in range(k)
            ]
            for p in procs:
                p.start()
            barrier.wait()
            t = time.perf_counter()
            for p in procs:
                p.join()
            rates[k] = k * n / (time.perf_counter() - t)
        trail = AuditTrail.open(url)
        report = trail.verify([key.public_key()])
        trail.close()
        assert report.ok, report.findings[:3]
        assert report.records == n * (1 + writers)
        print(f"PostgreSQL (synchronous_commit=on), {n} appends per writer:")
        print(f"  baseline: bare INSERT+COMMIT, 1 conn  {floor:9.0f} /s")
        print(
            f"  append(), 1 writer process            {rates[1]:9.0f} /s  ({rates[1] / floor:.2f}x)"
        )
        print(
            f"  append(), {writers} writer processes          {rates[writers]:9.0f} /s  "
            f"({rates[writers] / floor:.2f}x)"
        )
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_sqlite(tmp, key, args.appends, args.repeats)
        rec = encode_record(sample_entry(0), "2026-11-27T00:00:00.000000Z")
        size = len(rec.body) + len(rec.request_json or "") + len(rec.response_text or "") + 128
        bench_postgres(args.postgres, key, args.appends // 2, args.writers, size)
        bench_verify(tmp, key, args.records, args.repeats)


if __name__ == "__main__":
    main()
