"""The write path on the driver connection: a failed commit rolls back whole, fails every caller
in its group, and leaves the connection usable; group-committed threads still get the receipts
of their own records."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from phaseroute.audit import AuditReceipt, AuditTrail
from phaseroute.errors import AuditWriteFailed
from phaseroute.storage.database import open_engine


def _count(location: str, table: str) -> int:
    engine = open_engine(location)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_a_failed_append_rolls_back_whole_and_names_the_database_error(
    location: str, signing_key: Ed25519PrivateKey
) -> None:
    with AuditTrail.open(location, signing_key=signing_key, checkpoint_every=3) as trail:
        trail.append_many([sample_entry(i) for i in range(2)])
        # A row squatting on the next sequence number (as a broken writer might leave):
        # the append must fail closed, leaving no half-written record or content.
        engine = open_engine(location)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_records (seq, prev_hash, hash, body)"
                    " VALUES (4, 'p', 'h', '{}')"
                )
            )
        engine.dispose()
        with pytest.raises(AuditWriteFailed, match=r"could not be written to .*(UNIQUE|duplicate)"):
            trail.append_many([sample_entry(i) for i in range(2, 4)])
        assert trail.store.head().last_seq == 2
        assert _count(location, "audit_content") == 2
        assert _count(location, "audit_checkpoints") == 0  # the due checkpoint rolled back too
        # The connection that failed is usable again: a checkpoint of the intact head works.
        cp = trail.checkpoint()
        assert cp is not None
        assert cp.seq == 2


def test_group_committed_threads_get_their_own_receipts(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    location = str(tmp_path / "audit.db")
    per_thread = 60
    got: dict[str, AuditReceipt] = {}
    lock = threading.Lock()
    with AuditTrail.open(location, signing_key=signing_key) as trail:

        def work(t: int) -> None:
            for i in range(per_thread):
                rid = f"t{t}-{i}"
                receipt = trail.append(sample_entry(i, request_id=rid))
                with lock:
                    got[rid] = receipt

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        with trail.store.snapshot() as snap:
            stored = {rec.seq: (rec.hash, rec.body) for rec in snap.records()}
    assert sorted(r.sequence for r in got.values()) == list(range(1, 6 * per_thread + 1))
    for rid, receipt in got.items():
        own_hash, body = stored[receipt.sequence]
        assert receipt.record_hash == own_hash
        assert f'"request_id":"{rid}"' in body
