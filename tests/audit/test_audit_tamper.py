"""The tamper matrix, on SQLite and PostgreSQL: every way a database administrator could
change the trail is detected, named, and placed at the first bad sequence number.

The chain has 30 records with signed checkpoints at 10, 20 and 30. The "DBA" first
switches off the append-only triggers, as someone with full rights could.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import rfc8785
from audit_samples import sample_entry
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from phaseroute.audit import AuditTrail, FindingKind, Verdict, VerificationReport, trusted_keys
from phaseroute.audit._codec import link_hash, sha256_hex
from phaseroute.audit._keys import key_id
from phaseroute.audit._snapshot import Checkpoint
from phaseroute.storage.database import open_engine

N = 30


def _build(location: str, key: Ed25519PrivateKey) -> AuditTrail:
    trail = AuditTrail.open(location, signing_key=key, checkpoint_every=10)
    for start in range(0, N, 10):
        trail.append_many([sample_entry(i) for i in range(start, start + 10)])
    return trail


@pytest.fixture
def chain(location: str, signing_key: Ed25519PrivateKey) -> Iterator[AuditTrail]:
    trail = _build(location, signing_key)
    yield trail
    trail.close()


class DBA:
    """Raw SQL with the append-only triggers disabled."""

    def __init__(self, location: str) -> None:
        self.engine = open_engine(location)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                for table in ("audit_records", "audit_checkpoints"):
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for table in ("audit_records", "audit_checkpoints"):
                    for op in ("update", "delete"):
                        conn.execute(text(f"DROP TRIGGER {table}_no_{op}"))

    def run(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def row(self, seq: int) -> tuple[str, str, str]:
        with self.engine.connect() as conn:
            prev, own, body = conn.execute(
                text("SELECT prev_hash, hash, body FROM audit_records WHERE seq = :s"), {"s": seq}
            ).one()
        return prev, own, body

    def checkpoint_note(self, seq: int) -> str:
        with self.engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT note FROM audit_checkpoints WHERE seq = :s"), {"s": seq}
                ).scalar_one()
            )

    def body(self, seq: int) -> dict[str, Any]:
        return dict(json.loads(self.row(seq)[2]))

    def renumber(self, conn: Connection, above: int, delta: int) -> None:
        """Shift seq of records above `above` by `delta` without unique-key clashes."""
        conn.execute(text("UPDATE audit_records SET seq = -seq WHERE seq > :a"), {"a": above})
        conn.execute(text("UPDATE audit_records SET seq = -seq + :d WHERE seq < 0"), {"d": delta})

    def rehash_from(self, seq: int, head: int) -> None:
        """Recompute prev_hash and hash from `seq` to `head`, as a forger would."""
        prev = self.row(seq - 1)[1] if seq > 1 else "0" * 64
        with self.engine.begin() as conn:
            for s in range(seq, head + 1):
                body = conn.execute(
                    text("SELECT body FROM audit_records WHERE seq = :s"), {"s": s}
                ).scalar_one()
                own = link_hash(s, prev, sha256_hex(body))
                conn.execute(
                    text("UPDATE audit_records SET prev_hash = :p, hash = :h WHERE seq = :s"),
                    {"p": prev, "h": own, "s": s},
                )
                prev = own
            conn.execute(
                text("UPDATE audit_chain SET last_seq = :s, last_hash = :h"), {"s": head, "h": prev}
            )

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def dba(chain: AuditTrail, location: str) -> Iterator[DBA]:
    d = DBA(location)
    yield d
    d.close()


def _verify(chain: AuditTrail, key: Ed25519PrivateKey) -> VerificationReport:
    return chain.verify([key.public_key()])


def _expect(report: VerificationReport, kind: FindingKind, seq: int) -> None:
    assert not report.ok, "tampering went undetected"
    first = report.first_bad
    assert first is not None
    assert (first.kind, first.seq) == (kind, seq), [f.render() for f in report.findings]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "forged"
    if isinstance(value, list):
        return [*value, ["forged", "x"]] if value and isinstance(value[0], list) else [*value, "x"]
    raise AssertionError(f"no mutation for {value!r}")


RECORD_FIELDS = sorted(
    {
        *(f for f in sample_entry().__dataclass_fields__ if f not in ("request", "response_text")),
        "format",
        "recorded_at",
        "request_sha256",
        "response_sha256",
        "request_stripped_keys",
    }
    - {"redact"}
    | {"redacted"}
)
POSITIONS = (1, 10, 15, 30)  # first, checkpointed, middle, head


def test_untampered_chain_verifies(chain: AuditTrail, signing_key: Ed25519PrivateKey) -> None:
    report = _verify(chain, signing_key)
    assert report.ok, [f.render() for f in report.findings]
    assert (report.records, report.checkpoints, report.covered_seq) == (N, 3, N)


@pytest.mark.parametrize("field", RECORD_FIELDS)
def test_altering_any_field_is_named_altered(
    field: str, chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    seq = POSITIONS[RECORD_FIELDS.index(field) % len(POSITIONS)]
    body = dba.body(seq)
    assert field in body, sorted(body)
    body[field] = _changed(body[field])
    dba.run(
        "UPDATE audit_records SET body = :b WHERE seq = :s",
        b=rfc8785.dumps(body).decode(),
        s=seq,
    )
    _expect(_verify(chain, signing_key), FindingKind.ALTERED, seq)


@pytest.mark.parametrize("seq", POSITIONS)
@pytest.mark.parametrize("column", ["prev_hash", "hash"])
def test_altering_a_hash_column_is_named_altered(
    column: str, seq: int, chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    dba.run(f"UPDATE audit_records SET {column} = :v WHERE seq = :s", v="f" * 64, s=seq)
    _expect(_verify(chain, signing_key), FindingKind.ALTERED, seq)


def test_altering_the_seq_column_is_named_missing(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    dba.run("UPDATE audit_records SET seq = 999 WHERE seq = 7")
    _expect(_verify(chain, signing_key), FindingKind.MISSING, 7)


def test_altering_one_record_and_rehashing_only_it(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    body = dba.body(12)
    body["model_reported"] = "claude-haiku-4-5"  # the quiet downgrade a regulator looks for
    prev, _, _ = dba.row(12)
    new = rfc8785.dumps(body).decode()
    dba.run(
        "UPDATE audit_records SET body = :b, hash = :h WHERE seq = 12",
        b=new,
        h=link_hash(12, prev, sha256_hex(new)),
    )
    _expect(_verify(chain, signing_key), FindingKind.ALTERED, 12)


@pytest.mark.parametrize("seq", [1, 15, 29])
def test_deleting_a_record_is_named_missing(
    seq: int, chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    dba.run("DELETE FROM audit_records WHERE seq = :s", s=seq)
    _expect(_verify(chain, signing_key), FindingKind.MISSING, seq)


def test_deleting_a_record_and_renumbering_is_named_missing(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    with dba.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 15"))
        dba.renumber(conn, 15, -1)
        conn.execute(text("UPDATE audit_chain SET last_seq = 29"))
    _expect(_verify(chain, signing_key), FindingKind.MISSING, 15)


def test_inserting_a_forged_record_is_named_inserted(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    _, hash15, body15 = dba.row(15)
    forged = json.loads(body15)
    forged["case_id"] = "CASE-FORGED"
    body = rfc8785.dumps(forged).decode()
    with dba.engine.begin() as conn:
        dba.renumber(conn, 15, +1)
        conn.execute(
            text("INSERT INTO audit_records (seq, prev_hash, hash, body) VALUES (16, :p, :h, :b)"),
            {"p": hash15, "h": link_hash(16, hash15, sha256_hex(body)), "b": body},
        )
    _expect(_verify(chain, signing_key), FindingKind.INSERTED, 16)


def test_appending_a_forged_record_past_the_head(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    _, head, body = dba.row(N)
    dba.run(
        "INSERT INTO audit_records (seq, prev_hash, hash, body) VALUES (:s, :p, :h, :b)",
        s=N + 1,
        p=head,
        h=link_hash(N + 1, head, sha256_hex(body)),
        b=body,
    )
    _expect(_verify(chain, signing_key), FindingKind.INSERTED, N + 1)
    dba.run("UPDATE audit_chain SET last_seq = :s", s=N + 1)  # the forger covers tracks
    _expect(_verify(chain, signing_key), FindingKind.UNCOVERED, N + 1)


@pytest.mark.parametrize(("a", "b"), [(12, 17), (12, 13), (3, 28)])
def test_swapping_two_records_is_named_reordered(
    a: int, b: int, chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    with dba.engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET seq = -1 WHERE seq = :a"), {"a": a})
        conn.execute(text("UPDATE audit_records SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE audit_records SET seq = :b WHERE seq = -1"), {"b": b})
    _expect(_verify(chain, signing_key), FindingKind.REORDERED, a)


def test_truncating_the_tail_after_a_checkpoint_is_named_missing(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    dba.run("DELETE FROM audit_records WHERE seq > 24")
    dba.run("UPDATE audit_chain SET last_seq = 24")
    _expect(_verify(chain, signing_key), FindingKind.MISSING, 25)


def test_truncating_records_and_their_checkpoint_leaves_the_head_uncovered(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    dba.run("DELETE FROM audit_records WHERE seq > 25")
    dba.run("DELETE FROM audit_checkpoints WHERE seq = 30")
    _, h25, _ = dba.row(25)
    dba.run("UPDATE audit_chain SET last_seq = 25, last_hash = :h, checkpoint_seq = 20", h=h25)
    _expect(_verify(chain, signing_key), FindingKind.UNCOVERED, 21)


def test_rewriting_and_rehashing_the_chain_without_the_key_is_named_rewritten(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    body = dba.body(15)
    body["reviewer"] = "someone-else"
    dba.run("UPDATE audit_records SET body = :b WHERE seq = 15", b=rfc8785.dumps(body).decode())
    dba.rehash_from(15, N)
    report = _verify(chain, signing_key)
    _expect(report, FindingKind.REWRITTEN, 11)
    assert "records 11..20 were rewritten" in report.findings[0].message


def test_rewriting_the_whole_chain_and_resigning_with_another_key(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    body = dba.body(2)
    body["tier"] = "economy"
    dba.run("UPDATE audit_records SET body = :b WHERE seq = 2", b=rfc8785.dumps(body).decode())
    dba.rehash_from(1, N)
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    with dba.engine.connect() as conn:
        cps = [Checkpoint(*r) for r in conn.execute(text("SELECT * FROM audit_checkpoints"))]
    dba.run("DELETE FROM audit_checkpoints")
    for cp in cps:
        _, head, _ = dba.row(cp.seq)
        fake = Checkpoint(
            cp.seq,
            head,
            cp.count,
            cp.signed_at,
            cp.chain_id,
            key_id(forger.public_key()),
            raw.hex(),
            "",
        )
        signed = Checkpoint(**{**fake.__dict__, "signature": forger.sign(fake.payload()).hex()})
        dba.run(
            "INSERT INTO audit_checkpoints (seq, head_hash, count, signed_at, chain_id, key_id,"
            " public_key, signature) VALUES (:seq, :head_hash, :count, :signed_at,"
            " :chain_id, :key_id, :public_key, :signature)",
            **signed.__dict__,
        )
    report = _verify(chain, signing_key)
    # The signatures are valid — for a key nobody trusts: the verdict names that key.
    assert report.verdict is Verdict.UNTRUSTED_KEY
    _expect(report, FindingKind.UNTRUSTED_KEY, 10)
    assert key_id(forger.public_key()) in report.findings[0].message
    # ...and a verifier that trusted the forger's key would be fooled: the key is the anchor.
    assert chain.verify([forger.public_key()]).ok


@pytest.mark.parametrize(
    "column", ["head_hash", "signed_at", "signature", "count", "root_hash", "note"]
)
def test_altering_a_checkpoint_is_named_bad_signature(
    column: str, chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    note = dba.checkpoint_note(20)
    value: Any = {
        "head_hash": "e" * 64,
        "signed_at": "2020-01-01T00:00:00Z",
        "signature": "00" * 64,
        "root_hash": "e" * 64,
        "note": note.replace("\n20\n", "\n21\n"),
    }
    dba.run(f"UPDATE audit_checkpoints SET {column} = :v WHERE seq = 20", v=value.get(column, 21))
    _expect(_verify(chain, signing_key), FindingKind.BAD_SIGNATURE, 20)


def test_deleting_all_checkpoints_leaves_the_chain_uncovered(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    dba.run("DELETE FROM audit_checkpoints")
    _expect(_verify(chain, signing_key), FindingKind.UNCOVERED, 1)


def test_altering_stored_content_is_named_and_erasing_it_is_not(
    chain: AuditTrail, dba: DBA, signing_key: Ed25519PrivateKey
) -> None:
    chain.erase([4], reason="GDPR Art. 17 request", authority="DPO")
    chain.checkpoint()
    report = _verify(chain, signing_key)
    assert report.ok
    assert (report.erased, report.erasures) == (1, 1)
    dba.run("UPDATE audit_content SET response = 'No SAR needed.' WHERE seq = 9")
    _expect(_verify(chain, signing_key), FindingKind.CONTENT_ALTERED, 9)


def test_append_only_triggers_stop_casual_edits(chain: AuditTrail, location: str) -> None:
    engine = open_engine(location)
    try:
        for sql in (
            "UPDATE audit_records SET body = 'x' WHERE seq = 1",
            "DELETE FROM audit_records",
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
    finally:
        engine.dispose()


def test_trusted_keys_by_id(signing_key: Ed25519PrivateKey) -> None:
    keys = trusted_keys([signing_key.public_key()])
    assert list(keys) == [key_id(signing_key.public_key())]
