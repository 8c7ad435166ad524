"""Many writers, one chain: no fork, no gap, exactly the expected count.

PostgreSQL: 4 processes × 2,000 appends (several gateway replicas). SQLite: 4 threads of one
process (group commit), and 2 processes (the database's write lock is the guarantee).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phaseroute.audit import AuditReceipt, AuditTrail, generate_key_pair, load_signing_key

WRITER = Path(__file__).resolve().parent / "audit_writer.py"


def _run_writers(location: str, tmp_path: Path, processes: int, count: int) -> Ed25519PrivateKey:
    keys = generate_key_pair(tmp_path / "keys")
    AuditTrail.open(location).close()  # migrate once, so writers only race on appends
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                location,
                str(keys.private_key),
                str(tmp_path / f"acks-{p}.txt"),
                str(count),
                f"p{p}",
            ]
        )
        for p in range(processes)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    seqs = []
    for p in range(processes):
        lines = (tmp_path / f"acks-{p}.txt").read_text().splitlines()
        assert len(lines) == count
        seqs += [int(line.split()[0]) for line in lines]
    assert sorted(seqs) == list(range(1, processes * count + 1)), "fork or gap in the chain"
    return load_signing_key(f"file:{keys.private_key}")


def _assert_one_chain(location: str, key: Ed25519PrivateKey, expected: int) -> None:
    with AuditTrail.open(location) as trail:
        report = trail.verify([key.public_key()])
    assert report.ok, [f.render() for f in report.findings]
    assert report.records == report.head_seq == report.covered_seq == expected


def test_four_processes_append_one_chain_on_postgres(pg_location: str, tmp_path: Path) -> None:
    key = _run_writers(pg_location, tmp_path, processes=4, count=2000)
    _assert_one_chain(pg_location, key, 8000)


def test_two_processes_append_one_chain_on_sqlite(tmp_path: Path) -> None:
    location = str(tmp_path / "audit.db")
    key = _run_writers(location, tmp_path, processes=2, count=100)
    _assert_one_chain(location, key, 200)


def test_four_threads_append_one_chain_on_sqlite(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    location = str(tmp_path / "audit.db")
    per_thread = 500
    receipts: list[list[AuditReceipt]] = [[] for _ in range(4)]
    errors: list[BaseException] = []
    with AuditTrail.open(location, signing_key=signing_key, checkpoint_every=100) as trail:

        def work(t: int) -> None:
            try:
                for i in range(per_thread):
                    receipts[t].append(trail.append(sample_entry(i, request_id=f"t{t}-{i}")))
            except BaseException as e:  # surfaced by the assertion below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert not errors, errors
    seqs = sorted(r.sequence for rs in receipts for r in rs)
    assert seqs == list(range(1, 4 * per_thread + 1))
    for rs in receipts:  # each thread's own appends are in its order
        assert [r.sequence for r in rs] == sorted(r.sequence for r in rs)
    _assert_one_chain(location, signing_key, 4 * per_thread)
