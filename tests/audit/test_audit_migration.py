"""Schema migration 3 on a trail written with schema version 2, and case lookups across the
batched case index, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from audit_samples import insert_old_records, sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, text

from phaseroute.audit import AuditTrail, records_for_case
from phaseroute.audit._schema import COMPONENT, MIGRATIONS, now_iso
from phaseroute.audit._statements import CASES_BATCH
from phaseroute.storage.database import migrate, open_engine


def _write_version_2_trail(location: str, n: int) -> None:
    """A trail as the schema-2 write path left it: record, content and head move per append,
    the case id in an expression index."""
    engine = open_engine(location)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    migrate(engine, COMPONENT, MIGRATIONS[:2])
    with engine.begin() as conn:
        last, head = conn.execute(text("SELECT last_seq, last_hash FROM audit_chain")).one()
        entries = [sample_entry(i) for i in range(n)]
        prev = insert_old_records(conn, last, head, entries, now_iso())
        seq = last + n
        conn.execute(
            text("UPDATE audit_chain SET last_seq = :s, last_hash = :h"), {"s": seq, "h": prev}
        )
    engine.dispose()


def _cases_by_scan(trail: AuditTrail) -> dict[str, list[int]]:
    cases: dict[str, list[int]] = {}
    with trail.store.snapshot() as snap:
        for rec in snap.records():
            case = json.loads(rec.body).get("case_id")
            if case is not None:
                cases.setdefault(case, []).append(rec.seq)
    return cases


def test_a_version_2_trail_migrates_verifies_and_keeps_growing(
    location: str, signing_key: Ed25519PrivateKey
) -> None:
    _write_version_2_trail(location, 40)
    with AuditTrail.open(location, signing_key=signing_key, checkpoint_every=100) as trail:
        assert trail.verify().ok  # opening signed the old records; nothing was rewritten
        trail.append_many([sample_entry(i) for i in range(40, 60)])
        for i in range(60, 70):
            trail.append(sample_entry(i))
        trail.checkpoint()
        report = trail.verify()
        assert report.ok, [f.render() for f in report.findings]
        assert report.records == 70
        cases = _cases_by_scan(trail)
        for case, seqs in cases.items():
            assert [r.seq for r in records_for_case(trail.store, case)] == seqs
        assert trail.store.head().cases_seq == 40  # the migration indexed the old records
    engine = open_engine(location)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            for table in ("audit_records", "audit_content"):  # the seq is the row id
                indexes = conn.execute(text(f"PRAGMA index_list({table})")).all()
                assert indexes == [], indexes
    engine.dispose()


def test_case_lookups_agree_with_a_scan_across_the_batch_boundary(
    location: str, signing_key: Ed25519PrivateKey
) -> None:
    n = CASES_BATCH + 37
    with AuditTrail.open(location, signing_key=signing_key) as trail:
        trail.append_many([sample_entry(i) for i in range(CASES_BATCH - 3)])
        for i in range(CASES_BATCH - 3, n):
            trail.append(sample_entry(i))
        assert trail.store.head().cases_seq == CASES_BATCH
        cases = _cases_by_scan(trail)
        assert sum(map(len, cases.values())) == n
        for case, seqs in cases.items():
            assert [r.seq for r in records_for_case(trail.store, case)] == seqs
        assert records_for_case(trail.store, "CASE-NONE") == []


def test_a_case_index_behind_its_rows_never_blocks_an_append(
    location: str, signing_key: Ed25519PrivateKey
) -> None:
    with AuditTrail.open(location, signing_key=signing_key) as trail:
        trail.append_many([sample_entry(i) for i in range(CASES_BATCH + 5)])
        engine = open_engine(location)
        with engine.begin() as conn:  # as a restore or a hand edit might leave it
            conn.execute(text("UPDATE audit_chain SET cases_seq = 0"))
        engine.dispose()
        trail.append(sample_entry(0))
        assert trail.store.head().cases_seq == CASES_BATCH + 6
        for case, seqs in _cases_by_scan(trail).items():
            assert [r.seq for r in records_for_case(trail.store, case)] == seqs
