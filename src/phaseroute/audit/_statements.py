"""The write path's SQL for each store, and the statements that run it.

SQLite takes ``?`` parameters: the writer chains records in Python under ``BEGIN
IMMEDIATE`` and runs one multi-row INSERT per table. PostgreSQL takes ``%s``: an append is
one call of ``phaseroute_audit_append`` (migration 3), which locks the head row, chains and
inserts on the server, so the lock is never held across a round trip to the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from phaseroute.audit._schema import case_id_sql, index_cases_sql

# Records indexed by case id per batch: the writer holding the chain lock indexes the last
# CASES_BATCH records in one statement, and a case lookup scans at most this many.
CASES_BATCH = 256

# Rows per SQLite INSERT: the statement cache (128) holds every chunk size of both tables.
_ROWS_PER_INSERT = 32

SELECT_HEAD = (
    "SELECT chain_id, created_at, last_seq, last_hash, checkpoint_seq, checkpoint_at, cases_seq"
    " FROM audit_chain WHERE id = 1"
)

# A PostgreSQL transaction whose synchronous commit flushes the WAL up to its own commit
# record, so past every transaction that committed before it. It must write WAL of its own:
# a transaction that only took an xid commits without waiting for the flush (xact.c,
# RecordTransactionCommit: the flush needs `wrote_xlog`). A transactional logical message
# is the smallest record that does, needs no table and no privilege.
FLUSH_POSTGRES = "SELECT pg_logical_emit_message(true, 'phaseroute.audit', 'durable')"


@dataclass(frozen=True)
class Statements:
    """The write path's SQL in one driver's parameter style (sqlite3 ``?``, psycopg ``%s``)."""

    postgres: bool
    lock_head: str
    move_head: str
    insert_checkpoint: str
    move_head_and_checkpoint: str
    insert_records: str
    insert_content: str
    index_cases: str
    append_postgres: str = ""

    @classmethod
    def for_dialect(cls, dialect: str) -> Statements:
        return cls.postgres_() if dialect == "postgresql" else cls.sqlite()

    @classmethod
    def sqlite(cls) -> Statements:
        return cls(
            postgres=False,
            lock_head=SELECT_HEAD,
            move_head="UPDATE audit_chain SET last_seq = ?, last_hash = ?, cases_seq = ?"
            " WHERE id = 1",
            insert_checkpoint="INSERT INTO audit_checkpoints (seq, head_hash, count, signed_at,"
            " chain_id, key_id, public_key, signature, root_hash, compact, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            move_head_and_checkpoint="UPDATE audit_chain SET last_seq = ?, last_hash = ?,"
            " checkpoint_seq = ?, checkpoint_at = ? WHERE id = 1",
            insert_records="INSERT INTO audit_records (seq, prev_hash, hash, body) VALUES ",
            insert_content="INSERT INTO audit_content (seq, request, response) VALUES ",
            index_cases=index_cases_sql("sqlite", "?", "?"),
        )

    @classmethod
    def postgres_(cls) -> Statements:
        lite = cls.sqlite()
        return cls(
            postgres=True,
            lock_head=SELECT_HEAD + " FOR UPDATE",
            move_head=lite.move_head.replace("?", "%s"),
            insert_checkpoint=lite.insert_checkpoint.replace("?", "%s"),
            move_head_and_checkpoint=lite.move_head_and_checkpoint.replace("?", "%s"),
            insert_records="",  # appends go through phaseroute_audit_append
            insert_content="",
            index_cases=index_cases_sql("postgresql", "%s", "%s"),
            append_postgres="SELECT o_first, o_prev, o_hashes, o_checkpoint_seq, o_checkpoint_at"
            # %b: arrays of JSON text go in binary, with no quoting on either side.
            " FROM phaseroute_audit_append(%b, %b, %b, %b, %b, %s)",
        )

    def param(self, sql: str) -> str:
        """`sql` written with ``?`` in this driver's parameter style."""
        return sql.replace("?", "%s") if self.postgres else sql

    def insert(
        self,
        driver: Any,
        rows: Sequence[tuple[Any, ...]],
        content: Sequence[tuple[Any, ...]],
        head: tuple[int, str],
        cases: tuple[int, int],
    ) -> None:
        """SQLite: insert record and content rows, move the head to `head` (seq, hash), and
        index the case ids of records `cases` = (first, last], first exclusive, if any."""
        _insert_rows(driver, self.insert_records, rows)
        _insert_rows(driver, self.insert_content, content)
        driver.execute(self.move_head, (head[0], head[1], cases[1]))
        if cases[0] < cases[1]:
            driver.execute(self.index_cases, cases)

    def records_sql(self, case_id: bool, seq_range: bool) -> str:
        """Records in seq order with their content rows: all, one case's, or a seq range."""
        mark = "%s" if self.postgres else "?"
        where = ""
        if case_id:
            # Indexed case ids up to audit_chain.cases_seq, a scan of the few records past it.
            case = case_id_sql("postgresql" if self.postgres else "sqlite")
            where = (
                f"WHERE r.seq IN (SELECT seq FROM audit_cases WHERE case_id = {mark}"
                " UNION ALL SELECT seq FROM audit_records WHERE seq >"
                f" (SELECT cases_seq FROM audit_chain WHERE id = 1) AND {case} = {mark})"
            )
        elif seq_range:
            where = f"WHERE r.seq >= {mark} AND r.seq <= {mark}"
        return (
            "SELECT r.seq, r.prev_hash, r.hash, r.body, c.seq IS NOT NULL, c.request,"
            " c.response, c.erased_at FROM audit_records r"
            f" LEFT JOIN audit_content c ON c.seq = r.seq {where} ORDER BY r.seq"
        )


def _insert_rows(driver: Any, insert: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs of up to _ROWS_PER_INSERT rows (SQLite).

    One statement per chunk rather than executemany's one step per row: every step releases
    the GIL, and a group-commit leader that must win it back from threads busy encoding
    their next records waits at each of those points.
    """
    if len(rows) == 1:
        driver.execute(insert + _MARKS[len(rows[0])], rows[0])
        return
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        marks = _MARKS[len(chunk[0])]
        driver.execute(insert + ",".join([marks] * len(chunk)), [v for r in chunk for v in r])


_MARKS = {n: "(" + ",".join("?" * n) + ")" for n in (3, 4)}
