"""The chain store: appends, checkpoints and erasures under a database lock.

Writers are serialised by the database, not by Python: SQLite takes its write lock up front
with ``BEGIN IMMEDIATE``; PostgreSQL locks the ``audit_chain`` head row ``FOR UPDATE`` (for an
append, inside ``phaseroute_audit_append``). The sequence number is the primary key, so two
writers can never both extend the same head. Reads go through `Snapshot` (_snapshot.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import PoolProxiedConnection

from phaseroute.audit._codec import EncodedRecord, encode_erasure, link_hash
from phaseroute.audit._entry import AuditReceipt
from phaseroute.audit._keys import key_id
from phaseroute.audit._merkle import CompactRange
from phaseroute.audit._note import TreeHead, origin_for, sign_head
from phaseroute.audit._schema import COMPONENT, MIGRATIONS, now_iso
from phaseroute.audit._snapshot import ChainHead, Checkpoint, Snapshot
from phaseroute.audit._statements import CASES_BATCH, FLUSH_POSTGRES, SELECT_HEAD, Statements
from phaseroute.errors import AuditWriteFailed, RequestError
from phaseroute.storage.database import migrate, open_engine


def _sqlite_autocommit(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun explicitly (pysqlite would defer and hide them).
    dbapi_connection.isolation_level = None


def _postgres_durable(dbapi_connection: Any, _record: Any) -> None:
    # "Returned ⇒ durable" needs the commit to wait for the WAL flush, whatever the
    # server's default; fsync=off on the server cannot be overridden and is documented.
    with dbapi_connection.cursor() as cur:
        cur.execute("SET synchronous_commit TO on")
    dbapi_connection.commit()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


class ChainStore:
    """Database access for one audit chain (SQLite file or PostgreSQL database).

    The write path (appends, checkpoints) runs on the driver connection inside a pooled
    SQLAlchemy connection: a durable append is a handful of statements, and SQLAlchemy's
    per-statement overhead used to cost more than SQLite's fsync'd commit.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sql = Statements.for_dialect(self.dialect)
        self._writer_lock = threading.Lock()  # one write transaction at a time per store
        self._held: PoolProxiedConnection | None = None
        self._used = 0.0  # time.monotonic() of the held connection's last write

    @classmethod
    def open(cls, location: str | Path | None) -> ChainStore:
        engine = open_engine(location)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_autocommit)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            event.listen(engine, "connect", _postgres_durable)
        migrate(engine, COMPONENT, MIGRATIONS)
        return cls(engine)

    def dispose(self) -> None:
        with self._writer_lock:
            if self._held is not None:
                self._held.close()
                self._held = None
        self.engine.dispose()

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _driver(self, what: str) -> Iterator[Any]:
        """The writer's driver connection, one write at a time per store; any failure rolls
        back and becomes AuditWriteFailed naming `what`."""
        with self._writer_lock:
            pooled = self._checkout(what)
            driver: Any = pooled.driver_connection
            try:
                yield driver
            except (sqlite3.Error, psycopg.Error) as e:
                self._drop(pooled, driver)
                raise AuditWriteFailed(
                    f"the audit {what} could not be written to {self.describe()}: {_reason(e)}"
                ) from e
            except BaseException:
                self._drop(pooled, driver)
                raise
            finally:
                if pooled is not self._held:
                    pooled.close()

    @contextmanager
    def _write(self, what: str) -> Iterator[tuple[Any, ChainHead]]:
        """A write transaction holding the chain lock: yields (driver connection, head).

        Commits when the block ends and returns only after the commit is durable.
        """
        with self._driver(what) as driver:
            if self.dialect == "sqlite":
                # Take the write lock before reading the head, so no writer can move it.
                driver.execute("BEGIN IMMEDIATE")
                yield driver, ChainHead(*driver.execute(SELECT_HEAD).fetchone())
                driver.commit()
                return
            # On PostgreSQL statements are pipelined: BEGIN goes out with the head's
            # SELECT ... FOR UPDATE, and the writes with the COMMIT.
            with driver.pipeline():
                row = driver.execute(self._sql.lock_head).fetchone()
                yield driver, ChainHead(*row)
                driver.commit()

    def _checkout(self, what: str) -> PoolProxiedConnection:
        """The connection for the next write, kept for the store's lifetime (a pool
        checkout per append cost more than the statements: on PostgreSQL a ping round trip).
        On PostgreSQL one idle for over a second is pinged first, so a restarted server
        costs no failed append; a dead one is replaced by a fresh (pinged) one."""
        held = self._held
        if held is not None:
            if self.dialect == "sqlite" or time.monotonic() - self._used < 1.0:
                self._used = time.monotonic()
                return held
            try:
                ping: Any = held.driver_connection
                ping.execute("SELECT 1")
                ping.rollback()
                self._used = time.monotonic()
                return held
            except psycopg.Error:
                self._held = None
                held.invalidate()
        try:
            pooled = self.engine.raw_connection()
        except SQLAlchemyError as e:
            raise AuditWriteFailed(
                f"the audit {what} could not be written to {self.describe()}: {_reason(e)}"
            ) from e
        self._held = pooled
        self._used = time.monotonic()
        return pooled

    def _drop(self, pooled: PoolProxiedConnection, driver: Any) -> None:
        """After a failed write: roll back, and stop reusing the connection (the next write
        checks out a fresh one; one that cannot even roll back is discarded)."""
        if pooled is self._held:
            self._held = None
        try:
            driver.rollback()
        except (sqlite3.Error, psycopg.Error):
            pooled.invalidate()

    def append(
        self,
        records: Sequence[EncodedRecord],
        *,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int,
        checkpoint_seconds: float,
        signed: list[Checkpoint] | None = None,
    ) -> list[AuditReceipt]:
        """Chain `records` after the head in one transaction; return once it is committed.
        A checkpoint signed in the same transaction is added to `signed`."""
        if self.dialect == "postgresql":
            return self._append_postgres(
                records, signing_key, checkpoint_every, checkpoint_seconds, signed
            )
        with self._write("record") as (driver, head):
            receipts, rows, content = _link(head, records)
            last = receipts[-1]
            cases_to = head.cases_seq
            if last.sequence - head.cases_seq >= CASES_BATCH:
                cases_to = last.sequence
            self._sql.insert(
                driver,
                rows,
                content,
                (last.sequence, last.record_hash),
                (head.cases_seq, cases_to),
            )
            if signing_key is not None and _due(head, last, checkpoint_every, checkpoint_seconds):
                cp = self._sign(driver, head, last.sequence, last.record_hash, signing_key)
                receipts = [checkpointed(r) for r in receipts]
                if signed is not None:
                    signed.append(cp)
        return receipts

    def _append_postgres(
        self,
        records: Sequence[EncodedRecord],
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int,
        checkpoint_seconds: float,
        signed: list[Checkpoint] | None,
    ) -> list[AuditReceipt]:
        """Two statements, each its own transaction: the append as one server-side call
        (locks the head, chains, inserts, moves the head), which commits without waiting for
        the WAL flush, then a transaction whose synchronous commit flushes past it. The head
        row is locked only while the server works; the flush waits outside the lock, shared
        by every writer waiting at the same time (docs/audit.md, "Durable appends on
        PostgreSQL")."""
        with self._driver("record") as driver:
            driver.autocommit = True
            try:
                row = driver.execute(self._sql.append_postgres, _append_args(records)).fetchone()
                driver.execute(FLUSH_POSTGRES)
            finally:
                if not driver.closed:
                    driver.autocommit = False
            first, prev, hashes, cp_seq, cp_at = row
        receipts = []
        for i, (rec, own) in enumerate(zip(records, hashes, strict=True)):
            receipts.append(AuditReceipt(first + i, own, prev, rec.recorded_at))
            prev = own
        last = receipts[-1]
        if signing_key is None or not _due(
            ChainHead("", "", 0, "", cp_seq, cp_at, 0), last, checkpoint_every, checkpoint_seconds
        ):
            return receipts
        # Signed in a transaction of its own, after the records are durable.
        cp = self.checkpoint(signing_key)
        if cp is not None and signed is not None:
            signed.append(cp)
        if cp is not None and cp.seq >= last.sequence:
            receipts = [checkpointed(r) for r in receipts]
        return receipts

    def _sign(
        self, driver: Any, head: ChainHead, seq: int, head_hash: str, key: Ed25519PrivateKey
    ) -> Checkpoint:
        """Sign the tree head at `seq`: extend the last checkpoint's compact range by the
        records since (RFC 9162 leaves), cache the perfect subtrees it completes, and sign
        the tlog-checkpoint note. Runs once per checkpoint, never per append."""
        p = self._sql.param
        row = driver.execute(
            "SELECT seq, compact FROM audit_checkpoints WHERE compact IS NOT NULL"
            " ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        compact = CompactRange() if row is None else CompactRange.decode(int(row[0]), row[1])
        hashes = driver.execute(
            p("SELECT hash FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq"),
            (compact.size, seq),
        ).fetchall()
        completed: list[tuple[int, int, bytes]] = []
        compact.extend_hex((h for (h,) in hashes), completed)
        if compact.size != seq:
            raise AuditWriteFailed(
                f"the audit chain has a gap below seq {seq}: cannot sign its tree head"
            )
        root = compact.root()
        tree_head = TreeHead(origin_for(head.chain_id), seq, root)
        public = key.public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        unsigned = Checkpoint(
            seq,
            head_hash,
            seq,
            now_iso(),
            head.chain_id,
            key_id(public),
            raw.hex(),
            "",
            root.hex(),
            compact.encode(),
            sign_head(tree_head, key),
        )
        cp = replace(unsigned, signature=key.sign(unsigned.payload()).hex())
        driver.execute(self._sql.insert_checkpoint, astuple(cp))
        if completed:
            driver.cursor().executemany(
                p("INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)"),
                [(level, idx, h.hex()) for level, idx, h in completed],
            )
        driver.execute(self._sql.move_head_and_checkpoint, (seq, head_hash, seq, cp.signed_at))
        return cp

    def checkpoint(self, signing_key: Ed25519PrivateKey) -> Checkpoint | None:
        """Sign the current head if records exist past the last checkpoint."""
        with self._write("checkpoint") as (driver, head):
            if head.last_seq <= head.checkpoint_seq:
                return None
            return self._sign(driver, head, head.last_seq, head.last_hash, signing_key)

    def erase(self, seqs: Sequence[int], *, reason: str, authority: str) -> AuditReceipt:
        """Erase the request/response text of records `seqs` and chain an erasure record
        naming them, the reason and the authority — one transaction, so content is never
        missing without the record that explains it."""
        wanted = sorted(set(seqs))
        if not wanted:
            raise RequestError("name at least one record to erase (--seq N)")
        if not reason.strip() or not authority.strip():
            raise RequestError(
                "an erasure needs a reason and an authority (e.g. --reason 'GDPR Art. 17 "
                "request 2026-114' --authority 'DPO, J. Smith')"
            )
        p = self._sql.param
        marks = ",".join("?" * len(wanted))
        with self._write("erasure") as (driver, head):
            rows = driver.execute(
                p(
                    "SELECT seq FROM audit_content WHERE erased_at IS NULL"
                    f" AND request IS NOT NULL AND seq IN ({marks})"
                ),
                wanted,
            ).fetchall()
            missing = sorted(set(wanted) - {int(r[0]) for r in rows})
            if missing:
                raise RequestError(
                    f"record(s) {', '.join(map(str, missing))} have no stored content to erase "
                    "(redacted, already erased, an erasure record, or beyond the head)"
                )
            recorded_at = now_iso()
            body, body_sha = encode_erasure(
                wanted, reason=reason, authority=authority, recorded_at=recorded_at
            )
            seq = head.last_seq + 1
            own = link_hash(seq, head.last_hash, body_sha)
            driver.execute(
                p("INSERT INTO audit_records (seq, prev_hash, hash, body) VALUES (?, ?, ?, ?)"),
                (seq, head.last_hash, own, body),
            )
            driver.execute(
                p(
                    "UPDATE audit_content SET request = NULL, response = NULL, erased_at = ?"
                    f" WHERE seq IN ({marks})"
                ),
                [recorded_at, *wanted],
            )
            driver.execute(self._sql.move_head, (seq, own, head.cases_seq))
        return AuditReceipt(seq, own, head.last_hash, recorded_at)

    # ------------------------------------------------------------------ reading

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def head(self) -> ChainHead:
        with self.engine.connect() as conn:
            return ChainHead(*conn.execute(text(SELECT_HEAD)).one())

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A consistent read view (one transaction) over head, checkpoints and records."""
        conn = self.engine.connect()
        if self.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            with conn.begin():
                yield Snapshot(conn)
        finally:
            conn.close()


def _link(
    head: ChainHead, records: Sequence[EncodedRecord]
) -> tuple[list[AuditReceipt], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Chain `records` after `head`: receipts, record rows and content rows."""
    seq, prev = head.last_seq, head.last_hash
    receipts: list[AuditReceipt] = []
    rows: list[tuple[Any, ...]] = []
    content: list[tuple[Any, ...]] = []
    for rec in records:
        seq += 1
        own = link_hash(seq, prev, rec.body_sha256)
        rows.append((seq, prev, own, rec.body))
        if rec.stores_content:
            content.append((seq, rec.request_json, rec.response_text))
        receipts.append(AuditReceipt(seq, own, prev, rec.recorded_at))
        prev = own
    return receipts, rows, content


def _append_args(records: Sequence[EncodedRecord]) -> tuple[Any, ...]:
    return (
        [r.body for r in records],
        [r.body_sha256 for r in records],
        [r.stores_content for r in records],
        [r.request_json for r in records],
        [r.response_text for r in records],
        CASES_BATCH,
    )


def _due(head: ChainHead, last: AuditReceipt, every: int, seconds: float) -> bool:
    """Whether a checkpoint is due once `last` is chained after `head`."""
    return (
        last.sequence - head.checkpoint_seq >= every
        or _age_s(head.checkpoint_at, last.recorded_at) >= seconds
    )


def checkpointed(r: AuditReceipt) -> AuditReceipt:
    return AuditReceipt(r.sequence, r.record_hash, r.prev_hash, r.recorded_at, True)


def _age_s(since: str, now: str) -> float:
    try:
        return (datetime.fromisoformat(now) - datetime.fromisoformat(since)).total_seconds()
    except ValueError:
        return float("inf")  # an unreadable time: sign now rather than never


def _reason(e: SQLAlchemyError | sqlite3.Error | psycopg.Error) -> str:
    orig = getattr(e, "orig", None)
    return str(orig if orig is not None else e).strip().splitlines()[0]
