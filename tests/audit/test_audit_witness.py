"""A head held outside: truncation and rollback, with and without a witness, on both stores."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from phaseroute.audit import (
    AuditTrail,
    DirectoryWitness,
    FindingKind,
    PublishedHead,
    Verdict,
    check_against_witness,
    generate_key_pair,
    trusted_keys,
    verify_store,
)
from phaseroute.audit._keys import public_pem
from phaseroute.audit._note import TreeHead, origin_for, parse_note, sign_head
from phaseroute.cli._app import run
from phaseroute.errors import StorageError
from phaseroute.policy import load_plan
from phaseroute.runtime._providers import open_audit
from phaseroute.storage.database import open_engine


def _fill(location: str, key: Ed25519PrivateKey, witness: DirectoryWitness | None, n: int) -> None:
    with AuditTrail.open(location, signing_key=key, checkpoint_every=10, witness=witness) as t:
        for start in range(0, n, 10):
            t.append_many([sample_entry(i) for i in range(start, min(start + 10, n))])


def truncate(location: str, keep: int) -> None:
    """What the issue's tester did: delete the newest records and their checkpoints, and
    move the head back, with the append-only triggers out of the way."""
    engine = open_engine(location)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("audit_records", "audit_checkpoints"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for table in ("audit_records", "audit_checkpoints"):
                conn.execute(text(f"DROP TRIGGER {table}_no_delete"))
        conn.execute(text("DELETE FROM audit_records WHERE seq > :k"), {"k": keep})
        conn.execute(text("DELETE FROM audit_content WHERE seq > :k"), {"k": keep})
        conn.execute(text("DELETE FROM audit_checkpoints WHERE seq > :k"), {"k": keep})
        head = conn.execute(
            text("SELECT hash FROM audit_records WHERE seq = :k"), {"k": keep}
        ).scalar_one()
        conn.execute(
            text(
                "UPDATE audit_chain SET last_seq = :k, last_hash = :h, checkpoint_seq = :k"
                " WHERE id = 1"
            ),
            {"k": keep, "h": head},
        )
    engine.dispose()


@pytest.fixture
def pub(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit.pub"
    path.write_bytes(public_pem(signing_key.public_key()))
    return path


def test_every_checkpoint_is_published_to_the_witness(
    location: str, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    witness = DirectoryWitness(tmp_path / "witness")
    _fill(location, signing_key, witness, 25)  # checkpoints at 10, 20; close() signs 25
    sizes = sorted(parse_note(h.note).head.size for h in witness.heads())
    assert sizes == [10, 20, 25]
    for h in witness.heads():
        assert parse_note(h.note).verify(signing_key.public_key())


def test_truncation_passes_alone_and_is_caught_by_the_witness(
    location: str,
    signing_key: Ed25519PrivateKey,
    tmp_path: Path,
    pub: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    witness = DirectoryWitness(tmp_path / "witness")
    _fill(location, signing_key, witness, 30)
    truncate(location, keep=20)
    trusted = trusted_keys([signing_key.public_key()])
    with AuditTrail.open(location) as trail:
        report = verify_store(trail.store, trusted, keep_leaves=True)
    # Without a witness the shortened chain is a genuinely signed chain: it verifies.
    assert report.verdict is Verdict.INTACT
    assert (report.head_seq, report.covered_seq) == (20, 20)
    check = check_against_witness(report, witness.heads(), trusted, "w")
    assert [(f.kind, f.seq) for f in check.findings] == [(FindingKind.TRUNCATED, 21)]
    assert "records 21..30 were removed" in check.findings[0].message

    base = ["audit", "verify", "--db", location, "--public-key", str(pub)]
    assert run(base) == 0
    capsys.readouterr()
    assert run([*base, "--witness", str(tmp_path / "witness")]) == 6
    out = capsys.readouterr().out
    assert "TRUNCATED OR ROLLED BACK" in out
    assert "records 21..30 were removed" in out


def test_rollback_and_rewrite_is_caught_by_consistency_proof(
    location: str, signing_key: Ed25519PrivateKey, tmp_path: Path, pub: Path
) -> None:
    witness = DirectoryWitness(tmp_path / "witness")
    _fill(location, signing_key, witness, 30)
    truncate(location, keep=20)
    # The operator (who holds the key) then writes a different history past 20, longer
    # than the published one, and signs it: every signature in the database is valid.
    with AuditTrail.open(location, signing_key=signing_key, checkpoint_every=10) as trail:
        trail.append_many([sample_entry(100 + i) for i in range(15)])
        assert trail.verify().ok
    args = ["audit", "verify", "--db", location, "--public-key", str(pub)]
    assert run([*args, "--witness", str(tmp_path / "witness")]) == 6


def test_an_honest_trail_extends_every_published_head(
    location: str, signing_key: Ed25519PrivateKey, tmp_path: Path, pub: Path
) -> None:
    witness = DirectoryWitness(tmp_path / "witness")
    _fill(location, signing_key, witness, 30)
    _fill(location, signing_key, witness, 7)  # the trail grows after publishing
    args = ["audit", "verify", "--db", location, "--public-key", str(pub)]
    assert run([*args, "--witness", str(tmp_path / "witness")]) == 0


def test_a_witness_of_other_chains_only_is_a_finding(
    tmp_path: Path, signing_key: Ed25519PrivateKey, pub: Path
) -> None:
    other = DirectoryWitness(tmp_path / "witness")
    _fill(str(tmp_path / "other.db"), signing_key, other, 10)
    _fill(str(tmp_path / "a.db"), signing_key, None, 10)  # a new chain replaced the old
    args = ["audit", "verify", "--db", str(tmp_path / "a.db"), "--public-key", str(pub)]
    assert run([*args, "--witness", str(tmp_path / "witness")]) == 6
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run([*args, "--witness", str(empty)]) == 0  # nothing published yet: a note
    assert run([*args, "--witness", str(tmp_path / "nowhere")]) == 1


def test_the_directory_witness_only_ever_adds_files(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    w = DirectoryWitness(tmp_path / "w")
    note = sign_head(TreeHead(origin_for("c1"), 5, bytes(32)), signing_key)
    assert w.publish(note)
    assert not w.publish(note)  # the same head again: already held, nothing rewritten
    other = sign_head(TreeHead(origin_for("c1"), 5, bytes([1]) * 32), signing_key)
    assert w.publish(other)  # a conflicting head at the same size is kept beside it
    files = sorted((tmp_path / "w" / "c1").iterdir())
    assert len(files) == 2
    assert all(f.read_text() in (note, other) for f in files)
    assert all(not stat.S_IMODE(os.stat(f).st_mode) & 0o222 for f in files)  # read-only
    assert not [p for p in (tmp_path / "w" / "c1").iterdir() if p.name.startswith(".")]
    with pytest.raises(StorageError, match="malformed"):
        w.publish("not a note")


def test_the_policy_names_a_witness_and_every_checkpoint_publishes(tmp_path: Path) -> None:
    generate_key_pair(tmp_path / "keys")
    (tmp_path / "policy.yaml").write_text(
        """
version: 1
tiers: [economy, frontier]
providers:
  main: {type: anthropic, api_key: env:PHASEROUTE_TEST_NO_SUCH_KEY}
models:
  small: {provider: main, id: claude-haiku-4-5, tier: economy}
  large: {provider: main, id: claude-opus-4-1, tier: frontier}
workflows:
  wf:
    phases:
      interpret: {kind: interpretation, catastrophic_error: missed_risk, audit: true}
audit:
  signing_key: file:keys/audit.key
  checkpoint_every: 2
  witness: heads
"""
    )
    plan = load_plan(tmp_path / "policy.yaml")
    with open_audit(plan, tmp_path / "a.db") as trail:
        trail.append_many([sample_entry(1), sample_entry(2)])
        trail.append(sample_entry(3))
    sizes = sorted(
        parse_note(h.note).head.size for h in DirectoryWitness(tmp_path / "heads").heads()
    )
    assert sizes == [2, 3]


class _UnreachableWitness:
    """A witness whose storage is gone (an unmounted share, a bucket without credentials)."""

    def __init__(self) -> None:
        self.attempts = 0

    def describe(self) -> str:
        return "unreachable"

    def publish(self, note: str) -> bool:
        self.attempts += 1
        raise StorageError("the witness share is not mounted")

    def heads(self) -> list[PublishedHead]:
        return []


def test_a_failing_witness_never_fails_an_append(
    tmp_path: Path, signing_key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    witness = _UnreachableWitness()
    with AuditTrail.open(
        tmp_path / "a.db", signing_key=signing_key, checkpoint_every=2, witness=witness
    ) as trail:
        receipts = trail.append_many([sample_entry(i) for i in range(4)])
        assert receipts[-1].checkpointed  # durable and signed, though not published
        assert witness.attempts == 1
        trail.append_many([sample_entry(i) for i in range(4, 6)])
        assert witness.attempts == 2  # every new head is offered again
        assert trail.verify().ok
    assert "could not publish the signed head" in caplog.text
    assert "not mounted" in caplog.text
