"""Verdicts that do not cry wolf, erasure as a chained event, --db against --bundle, and a
version-1 database opening under version 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_samples import insert_old_records, sample_entry
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from phaseroute.audit import (
    AuditTrail,
    ChainStore,
    FindingKind,
    Verdict,
    export_bundle,
    key_id,
    trusted_keys,
    verify_store,
)
from phaseroute.audit._codec import checkpoint_payload
from phaseroute.audit._keys import public_pem
from phaseroute.audit._schema import COMPONENT, MIGRATIONS
from phaseroute.cli._app import run
from phaseroute.storage.database import migrate, open_engine


@pytest.fixture
def pub(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit.pub"
    path.write_bytes(public_pem(signing_key.public_key()))
    return path


def _trail(location: str, key: Ed25519PrivateKey | None, n: int = 12) -> None:
    with AuditTrail.open(location, signing_key=key, checkpoint_every=5) as t:
        t.append_many([sample_entry(i) for i in range(n)])


def _sql(location: str, *statements: str) -> None:
    engine = open_engine(location)
    with engine.begin() as conn:
        for s in statements:
            conn.execute(text(s))
    engine.dispose()


def test_a_wrong_public_key_is_an_untrusted_key_not_tampering(
    location: str,
    signing_key: Ed25519PrivateKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _trail(location, signing_key)
    wrong = tmp_path / "wrong.pub"
    wrong.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    assert run(["audit", "verify", "--db", location, "--public-key", str(wrong)]) == 4
    out = capsys.readouterr().out
    assert "UNTRUSTED KEY" in out
    assert key_id(signing_key.public_key()) in out  # names the key that did sign
    assert "TAMPERED" not in out


def test_an_unsigned_tail_is_its_own_verdict(
    location: str, signing_key: Ed25519PrivateKey, pub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _trail(location, signing_key)
    _trail(location, None, 3)  # a writer without the key: records 13..15 unsigned
    args = ["audit", "verify", "--db", location, "--public-key", str(pub)]
    assert run(args) == 5
    out = capsys.readouterr().out
    assert "UNSIGNED TAIL" in out
    assert "records 13..15" in out
    assert "TAMPERED" not in out
    assert run([*args, "--allow-unsigned-tail"]) == 0


def test_tampering_outranks_an_unsigned_tail(
    location: str, signing_key: Ed25519PrivateKey, pub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _trail(location, signing_key)
    _trail(location, None, 3)
    _sql(location, "UPDATE audit_content SET response = 'forged' WHERE seq = 4")
    assert run(["audit", "verify", "--db", location, "--public-key", str(pub)]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_erasure_is_a_chained_signed_event(
    location: str, signing_key: Ed25519PrivateKey, pub: Path
) -> None:
    _trail(location, signing_key)
    with AuditTrail.open(location, signing_key=signing_key) as t:
        receipt = t.erase([3, 7], reason="GDPR Art. 17 request 2026-114", authority="DPO J. Smith")
        assert receipt.sequence == 13
        report = t.verify()
    assert report.verdict is Verdict.INTACT
    assert (report.erased, report.erasures, report.covered_seq) == (2, 1, 13)
    store = ChainStore.open(location)
    try:
        with store.snapshot() as snap:
            rec = snap.record(13)
    finally:
        store.dispose()
    assert rec is not None
    body = json.loads(rec.body)
    assert body == {
        "authority": "DPO J. Smith",
        "erases": [3, 7],
        "format": "phaseroute.audit.erasure/1",
        "reason": "GDPR Art. 17 request 2026-114",
        "recorded_at": body["recorded_at"],
    }


@pytest.mark.parametrize(
    "tampering",
    [
        # blanked as an erasure would, but with no erasure record
        "UPDATE audit_content SET request = NULL, response = NULL,"
        " erased_at = '2026-11-30T00:00:00Z' WHERE seq = 4",
        # the content row deleted outright
        "DELETE FROM audit_content WHERE seq = 4",
    ],
)
def test_content_missing_without_an_erasure_record_is_tampering(
    location: str,
    signing_key: Ed25519PrivateKey,
    pub: Path,
    tampering: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _trail(location, signing_key)
    _sql(location, tampering)
    trusted = trusted_keys([signing_key.public_key()])
    store = ChainStore.open(location)
    try:
        report = verify_store(store, trusted)
    finally:
        store.dispose()
    assert report.verdict is Verdict.TAMPERED
    assert report.first_bad is not None
    assert (report.first_bad.kind, report.first_bad.seq) == (FindingKind.CONTENT_MISSING, 4)
    assert run(["audit", "verify", "--db", location, "--public-key", str(pub)]) == 1
    assert "first bad seq 4: content missing without an erasure record" in capsys.readouterr().out


def test_erasing_needs_content_a_reason_and_an_authority(
    tmp_path: Path, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "a.db")
    _trail(db, signing_key)
    base = ["audit", "erase", "--db", db, "--authority", "DPO"]
    assert run([*base, "--seq", "99", "--reason", "r"]) == 1
    assert "record(s) 99 have no stored content" in capsys.readouterr().err
    assert run([*base, "--seq", "2", "--reason", " "]) == 1
    assert "needs a reason and an authority" in capsys.readouterr().err
    assert run(["audit", "erase", "--db", db, "--seq", "2", "--reason", "r"]) == 2  # usage


def test_db_against_bundle(
    location: str,
    signing_key: Ed25519PrivateKey,
    tmp_path: Path,
    pub: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _trail(location, signing_key, 20)
    store = ChainStore.open(location)
    try:
        export_bundle(store, tmp_path / "bundle", public_keys=[signing_key.public_key()])
    finally:
        store.dispose()
    _trail(location, signing_key, 5)  # the trail grows after the export: still consistent
    args = ["audit", "verify", "--db", location, "--bundle", str(tmp_path / "bundle")]
    assert run([*args, "--public-key", str(pub)]) == 0
    assert "against bundle" in capsys.readouterr().out

    engine = open_engine(location)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("audit_records", "audit_checkpoints"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for table in ("audit_records", "audit_checkpoints"):
                conn.execute(text(f"DROP TRIGGER {table}_no_delete"))
        conn.execute(text("DELETE FROM audit_records WHERE seq > 12"))
        conn.execute(text("DELETE FROM audit_checkpoints WHERE seq > 12"))
        head = conn.execute(text("SELECT hash FROM audit_records WHERE seq = 12")).scalar_one()
        conn.execute(
            text("UPDATE audit_chain SET last_seq = 12, last_hash = :h, checkpoint_seq = 0"),
            {"h": head},
        )
    engine.dispose()
    _trail(location, signing_key, 0)  # re-sign the shortened head, as a careful forger would
    assert run(["audit", "verify", "--db", location, "--public-key", str(pub)]) == 0
    assert run([*args, "--public-key", str(pub)]) == 6
    assert "records 13..20 were removed since the export" in capsys.readouterr().out


def test_db_and_bundle_of_different_chains_are_refused(
    tmp_path: Path, signing_key: Ed25519PrivateKey, pub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _trail(str(tmp_path / "a.db"), signing_key)
    _trail(str(tmp_path / "b.db"), signing_key)
    store = ChainStore.open(tmp_path / "b.db")
    try:
        export_bundle(store, tmp_path / "bundle")
    finally:
        store.dispose()
    code = run(
        [
            "audit", "verify", "--db", str(tmp_path / "a.db"),
            "--bundle", str(tmp_path / "bundle"), "--public-key", str(pub),
        ]
    )  # fmt: skip
    assert code == 1
    assert "cannot be checked against each other" in capsys.readouterr().err


def test_a_version_1_database_opens_migrates_and_verifies(
    location: str, signing_key: Ed25519PrivateKey, tmp_path: Path, pub: Path
) -> None:
    # Build the trail as version 1 wrote it: schema 1, JCS-signed checkpoints, and an
    # erasure that only blanked the content row.
    engine = open_engine(location)
    migrate(engine, COMPONENT, MIGRATIONS[:1])
    public = signing_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with engine.begin() as conn:
        chain_id = conn.execute(text("SELECT chain_id FROM audit_chain")).scalar_one()
        entries = [sample_entry(seq) for seq in range(1, 6)]
        prev = insert_old_records(conn, 0, "0" * 64, entries, "2026-11-01T00:00:00.000000Z")
        at = "2026-11-01T00:00:01.000000Z"
        kid = key_id(public)
        sig = signing_key.sign(checkpoint_payload(chain_id, 5, prev, 5, at, kid)).hex()
        conn.execute(
            text("INSERT INTO audit_checkpoints VALUES (5, :h, 5, :t, :c, :k, :p, :s)"),
            {"h": prev, "t": at, "c": chain_id, "k": kid, "p": raw.hex(), "s": sig},
        )
        conn.execute(
            text("UPDATE audit_chain SET last_seq = 5, last_hash = :h, checkpoint_seq = 5"),
            {"h": prev},
        )
        conn.execute(
            text("UPDATE audit_content SET request = NULL, response = NULL, erased_at = :t"
                 " WHERE seq = 2"),
            {"t": at},
        )  # fmt: skip
    engine.dispose()

    store = ChainStore.open(location)  # migration 2 runs here
    try:
        report = verify_store(store, trusted_keys([public]))
    finally:
        store.dispose()
    # The silent v1 erasure is now explained by an erasure record (seq 6), not yet signed.
    assert report.verdict is Verdict.UNSIGNED_TAIL
    assert (report.head_seq, report.erased, report.erasures) == (6, 1, 1)
    _trail(location, signing_key, 2)  # a v2 writer: signs tree heads from here on
    args = ["audit", "verify", "--db", location, "--public-key", str(pub)]
    assert run(args) == 0
    out = tmp_path / "p.json"
    assert run(["audit", "prove", "--db", location, "--seq", "3", "--out", str(out)]) == 0
    assert run(["audit", "verify-proof", str(out), "--public-key", str(pub)]) == 0
