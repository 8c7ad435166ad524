"""Durability: 20 rounds of SIGKILL against a process appending in a loop (SQLite, WAL,
synchronous=FULL). After each kill the chain verifies and every acknowledged append is there.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audit_samples import read_acks
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phaseroute.audit import AuditTrail, ChainStore, generate_key_pair, load_signing_key
from phaseroute.audit._snapshot import StoredRecord

WRITER = Path(__file__).resolve().parent / "audit_writer.py"
ROUNDS = 20


def _stored(location: Path) -> dict[int, StoredRecord]:
    store = ChainStore.open(location)
    try:
        with store.snapshot() as snap:
            return {r.seq: r for r in snap.records()}
    finally:
        store.dispose()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_append_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    keys = generate_key_pair(tmp_path / "keys")
    key: Ed25519PrivateKey = load_signing_key(f"file:{keys.private_key}")
    location = tmp_path / "audit.db"
    rng = random.Random(4)
    acked: dict[int, str] = {}
    for round_no in range(ROUNDS):
        ack_file = tmp_path / f"acks-{round_no}.txt"
        proc = subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                str(location),
                str(keys.private_key),
                str(ack_file),
                "0",
                f"r{round_no}",
            ],
        )
        deadline = time.monotonic() + 30
        while len(read_acks(ack_file)) < 3:  # the writer is up and appending
            assert proc.poll() is None, "the writer exited before it was killed"
            assert time.monotonic() < deadline, "the writer never acknowledged an append"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        round_acks = read_acks(ack_file)
        assert not set(round_acks) & set(acked), "a sequence number was handed out twice"
        acked.update(round_acks)

        stored = _stored(location)
        missing = [s for s in acked if s not in stored]
        assert not missing, f"round {round_no}: acknowledged appends lost: {missing[:5]}"
        for seq, request_id in acked.items():
            assert json.loads(stored[seq].body)["request_id"] == request_id
        # The killed writer could not sign its tail; everything else must be intact.
        trail = AuditTrail.open(location)
        report = trail.verify([key.public_key()], allow_uncovered=True)
        trail.close()
        assert report.ok, [f.render() for f in report.findings]
        assert report.records == len(stored) >= len(acked)

    # The next writer to open with the key signs the orphaned tail: strictly intact again.
    with AuditTrail.open(location, signing_key=key) as trail:
        report = trail.verify()
    assert report.ok, [f.render() for f in report.findings]
    assert report.covered_seq == report.head_seq >= len(acked)
