"""The audit tables and their numbered migrations (SQLite and PostgreSQL).

- ``audit_chain``: one row, the chain head (id, last sequence and hash, last checkpoint). Every
  append locks it, which is what serialises writers across threads, processes and replicas.
- ``audit_records``: the chained records (seq, prev_hash, hash, canonical JSON body).
- ``audit_content``: request and response text, keyed by seq; erasable, never chained itself.
- ``audit_checkpoints``: Ed25519-signed (seq, head hash, count, time); from migration 2 also
  the RFC 9162 tree root at that size, the compact range it was computed from, and the signed
  note (c2sp.org/tlog-checkpoint) that is the signature a verifier checks.
- ``audit_tree`` (migration 2): cached roots of perfect subtrees of 256 leaves and more, so
  inclusion and consistency proofs need a few lookups, not a pass over every record.

Migration 2 drops the workflow/phase expression index (every append wrote its page; the
summaries that used it scan the table anyway) and chains the erasures a version-1 database
made silently (content blanked with ``erased_at`` set): one erasure record names them, so an
upgraded trail verifies and says so.

Migration 3 takes every page off the append path that a record does not need (see
docs/audit.md, "What an append writes"): on SQLite ``audit_records`` and ``audit_content`` are
rebuilt with ``INTEGER PRIMARY KEY`` (the row id *is* the sequence number; ``BIGINT PRIMARY
KEY`` kept a second B-tree per table), and on both stores the per-record case-id expression
index becomes ``audit_cases`` (case id, seq), filled in batches by the writer that already
holds the chain lock; ``audit_chain.cases_seq`` says how far it reaches, and case lookups scan
only the records past it. On PostgreSQL it also adds ``phaseroute_audit_append``, the append
as one server-side call (the head row is locked only while the server works).

Records and checkpoints refuse UPDATE and DELETE by trigger. That stops accidents, not a
database administrator (who can drop a trigger); the hash chain and signatures are what make
tampering detectable.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from phaseroute.audit._codec import encode_erasure, link_hash
from phaseroute.storage.database import Migration

COMPONENT = "audit"

_TABLES = (
    "CREATE TABLE audit_chain ("
    " id INTEGER PRIMARY KEY,"
    " chain_id VARCHAR(36) NOT NULL,"
    " created_at VARCHAR(40) NOT NULL,"
    " last_seq BIGINT NOT NULL,"
    " last_hash CHAR(64) NOT NULL,"
    " checkpoint_seq BIGINT NOT NULL,"
    " checkpoint_at VARCHAR(40) NOT NULL)",
    "CREATE TABLE audit_records ("
    " seq BIGINT PRIMARY KEY,"
    " prev_hash CHAR(64) NOT NULL,"
    " hash CHAR(64) NOT NULL,"
    " body TEXT NOT NULL)",
    "CREATE TABLE audit_content ("
    " seq BIGINT PRIMARY KEY,"
    " request TEXT,"
    " response TEXT,"
    " erased_at VARCHAR(40))",
    "CREATE TABLE audit_checkpoints ("
    " seq BIGINT PRIMARY KEY,"
    " head_hash CHAR(64) NOT NULL,"
    " count BIGINT NOT NULL,"
    " signed_at VARCHAR(40) NOT NULL,"
    " chain_id VARCHAR(36) NOT NULL,"
    " key_id VARCHAR(64) NOT NULL,"
    " public_key VARCHAR(64) NOT NULL,"
    " signature VARCHAR(128) NOT NULL)",
)

_SQLITE_GUARDS = (
    *(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in ("audit_records", "audit_checkpoints")
        for op in ("UPDATE", "DELETE")
    ),
    "CREATE INDEX audit_records_case ON audit_records (json_extract(body, '$.case_id'))",
    "CREATE INDEX audit_records_workflow ON audit_records"
    " (json_extract(body, '$.workflow'), json_extract(body, '$.phase'))",
)

_POSTGRES_GUARDS = (
    "CREATE FUNCTION phaseroute_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION phaseroute_audit_append_only()"
        for table in ("audit_records", "audit_checkpoints")
    ),
    *(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION phaseroute_audit_append_only()"
        for table in ("audit_records", "audit_checkpoints")
    ),
    "CREATE INDEX audit_records_case ON audit_records (((body::jsonb) ->> 'case_id'))",
    "CREATE INDEX audit_records_workflow ON audit_records"
    " (((body::jsonb) ->> 'workflow'), ((body::jsonb) ->> 'phase'))",
)


def now_iso() -> str:
    """The current UTC time as ISO-8601 with microseconds and a Z suffix."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _create(conn: Connection) -> None:
    for ddl in _TABLES:
        conn.execute(text(ddl))
    guards = _POSTGRES_GUARDS if conn.dialect.name == "postgresql" else _SQLITE_GUARDS
    for ddl in guards:
        conn.execute(text(ddl))
    created = now_iso()
    conn.execute(
        text(
            "INSERT INTO audit_chain"
            " (id, chain_id, created_at, last_seq, last_hash, checkpoint_seq, checkpoint_at)"
            " VALUES (1, :chain_id, :created, 0, :genesis, 0, :created)"
        ),
        {"chain_id": str(uuid.uuid4()), "created": created, "genesis": "0" * 64},
    )


_V2_COLUMNS = (
    "ALTER TABLE audit_checkpoints ADD COLUMN root_hash CHAR(64)",
    "ALTER TABLE audit_checkpoints ADD COLUMN compact TEXT",
    "ALTER TABLE audit_checkpoints ADD COLUMN note TEXT",
    "CREATE TABLE audit_tree ("
    " level INTEGER NOT NULL,"
    " idx BIGINT NOT NULL,"
    " hash CHAR(64) NOT NULL,"
    " PRIMARY KEY (level, idx))",
)


def _merkle_and_erasures(conn: Connection) -> None:
    for ddl in _V2_COLUMNS:
        conn.execute(text(ddl))
    # One page less per append: summaries group by workflow/phase with a scan either way.
    conn.execute(text("DROP INDEX audit_records_workflow"))
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "CREATE TRIGGER audit_tree_append_only BEFORE UPDATE OR DELETE ON audit_tree"
                " FOR EACH ROW EXECUTE FUNCTION phaseroute_audit_append_only()"
            )
        )
    else:
        for op in ("UPDATE", "DELETE"):
            conn.execute(
                text(
                    f"CREATE TRIGGER audit_tree_no_{op.lower()} BEFORE {op} ON audit_tree"
                    " BEGIN SELECT RAISE(ABORT, 'audit_tree is append-only'); END"
                )
            )
    _chain_legacy_erasures(conn)


def _chain_legacy_erasures(conn: Connection) -> None:
    """Append one erasure record for content a version-1 trail erased without one."""
    seqs = [
        int(r[0])
        for r in conn.execute(
            text("SELECT seq FROM audit_content WHERE erased_at IS NOT NULL ORDER BY seq")
        )
    ]
    if not seqs:
        return
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    last_seq, last_hash = conn.execute(
        text(f"SELECT last_seq, last_hash FROM audit_chain WHERE id = 1{lock}")
    ).one()
    body, body_sha = encode_erasure(
        seqs,
        reason="content erased by phaseroute before erasures were chained (schema version 1)",
        authority="phaseroute audit migration 2",
        recorded_at=now_iso(),
    )
    seq = int(last_seq) + 1
    own = link_hash(seq, last_hash, body_sha)
    conn.execute(
        text("INSERT INTO audit_records (seq, prev_hash, hash, body) VALUES (:s, :p, :h, :b)"),
        {"s": seq, "p": last_hash, "h": own, "b": body},
    )
    conn.execute(
        text("UPDATE audit_chain SET last_seq = :s, last_hash = :h WHERE id = 1"),
        {"s": seq, "h": own},
    )


def _sqlite_trigger(table: str, op: str) -> str:
    return (
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    )


_V3_SQLITE_TABLES = (
    (
        "audit_records",
        "seq INTEGER PRIMARY KEY, prev_hash CHAR(64) NOT NULL, hash CHAR(64) NOT NULL,"
        " body TEXT NOT NULL",
        "seq, prev_hash, hash, body",
        True,
    ),
    (
        "audit_content",
        "seq INTEGER PRIMARY KEY, request TEXT, response TEXT, erased_at VARCHAR(40)",
        "seq, request, response, erased_at",
        False,
    ),
)


def _fewer_pages_per_append(conn: Connection) -> None:
    postgres = conn.dialect.name == "postgresql"
    conn.execute(text("DROP INDEX audit_records_case"))
    if not postgres:
        for table, columns, names, guarded in _V3_SQLITE_TABLES:
            conn.execute(text(f"CREATE TABLE {table}_v3 ({columns})"))
            conn.execute(
                text(f"INSERT INTO {table}_v3 ({names}) SELECT {names} FROM {table} ORDER BY seq")
            )
            conn.execute(text(f"DROP TABLE {table}"))  # its triggers go with it
            conn.execute(text(f"ALTER TABLE {table}_v3 RENAME TO {table}"))
            if guarded:
                for op in ("UPDATE", "DELETE"):
                    conn.execute(text(_sqlite_trigger(table, op)))
    conn.execute(text("ALTER TABLE audit_chain ADD COLUMN cases_seq BIGINT NOT NULL DEFAULT 0"))
    conn.execute(
        text(
            "CREATE TABLE audit_cases ("
            " case_id TEXT NOT NULL,"
            " seq BIGINT NOT NULL,"
            " PRIMARY KEY (case_id, seq))" + ("" if postgres else " WITHOUT ROWID")
        )
    )
    last_seq = conn.execute(text("SELECT last_seq FROM audit_chain WHERE id = 1")).scalar_one()
    conn.execute(text(index_cases_sql(conn.dialect.name, ":a", ":b")), {"a": 0, "b": last_seq})
    conn.execute(text("UPDATE audit_chain SET cases_seq = last_seq WHERE id = 1"))
    if postgres:
        conn.exec_driver_sql(_POSTGRES_APPEND)


# PostgreSQL: the whole append in one server-side call, so the head row is locked only while
# the server works, never across a round trip to the client. The link is the one in
# _codec.link_hash (SHA-256 of the JCS link object, written out: hex digests and integers
# need no escaping); verification recomputes every link in Python.
_POSTGRES_APPEND = """
CREATE FUNCTION phaseroute_audit_append(
    bodies text[], body_shas text[], stores boolean[], requests text[], responses text[],
    cases_batch bigint)
RETURNS TABLE (o_first bigint, o_prev text, o_hashes text[], o_checkpoint_seq bigint,
    o_checkpoint_at text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    h record;
    v_seq bigint;
    v_prev text;
    v_cases bigint;
    v_hashes text[] := '{}';
BEGIN
    -- This transaction commits without waiting for the WAL flush; the caller makes it
    -- durable with a synchronous commit after it (docs/audit.md).
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT last_seq, last_hash, checkpoint_seq, checkpoint_at, cases_seq INTO h
        FROM audit_chain WHERE id = 1 FOR UPDATE;
    v_seq := h.last_seq;
    v_prev := h.last_hash;
    FOR i IN 1 .. cardinality(bodies) LOOP
        v_seq := v_seq + 1;
        v_prev := encode(sha256(convert_to('{"body_sha256":"' || body_shas[i]
            || '","prev_hash":"' || v_prev || '","seq":' || v_seq || '}', 'UTF8')), 'hex');
        v_hashes := v_hashes || v_prev;
    END LOOP;
    INSERT INTO audit_records (seq, prev_hash, hash, body)
        SELECT h.last_seq + i, CASE WHEN i = 1 THEN h.last_hash ELSE v_hashes[i - 1] END,
            v_hashes[i], bodies[i]
        FROM generate_subscripts(bodies, 1) AS i;
    INSERT INTO audit_content (seq, request, response)
        SELECT h.last_seq + i, requests[i], responses[i]
        FROM generate_subscripts(bodies, 1) AS i WHERE stores[i];
    v_cases := h.cases_seq;
    IF v_seq - v_cases >= cases_batch THEN
        INSERT INTO audit_cases (case_id, seq)
            SELECT (body::jsonb) ->> 'case_id', seq FROM audit_records
            WHERE seq > v_cases AND seq <= v_seq AND (body::jsonb) ->> 'case_id' IS NOT NULL
            ON CONFLICT DO NOTHING;
        v_cases := v_seq;
    END IF;
    UPDATE audit_chain SET last_seq = v_seq, last_hash = v_prev, cases_seq = v_cases
        WHERE id = 1;
    RETURN QUERY SELECT h.last_seq + 1, h.last_hash::text, v_hashes, h.checkpoint_seq,
        h.checkpoint_at::text;
END $$
"""


def case_id_sql(dialect: str, column: str = "body") -> str:
    """The SQL expression for a record body's case id."""
    if dialect == "postgresql":
        return f"(({column}::jsonb) ->> 'case_id')"
    return f"json_extract({column}, '$.case_id')"


def index_cases_sql(dialect: str, first: str, last: str) -> str:
    """INSERT the (case id, seq) of records `first` < seq <= `last` into ``audit_cases``."""
    case = case_id_sql(dialect)
    # A lookup aid, not evidence: a row already there (cases_seq moved back by hand) must
    # never block an append.
    return (
        f"INSERT INTO audit_cases (case_id, seq) SELECT {case}, seq FROM audit_records"
        f" WHERE seq > {first} AND seq <= {last} AND {case} IS NOT NULL"
        " ON CONFLICT DO NOTHING"
    )


MIGRATIONS = (
    Migration(1, "audit chain, records, content, checkpoints", _create),
    Migration(
        2, "Merkle tree heads, signed notes, subtree cache, chained erasures", _merkle_and_erasures
    ),
    Migration(3, "rowid sequence numbers, case ids indexed in batches", _fewer_pages_per_append),
)
