"""What the chain store holds, as read back: the head, records, checkpoints, and a
consistent read view over them (with the RFC 9162 subtree source built on it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from phaseroute.audit._codec import checkpoint_payload
from phaseroute.audit._merkle import CACHE_LEVEL, SubtreeSource, leaf_hash, node_hash, split_point
from phaseroute.audit._statements import SELECT_HEAD, Statements
from phaseroute.errors import StorageError


@dataclass(frozen=True)
class ChainHead:
    """The head row: chain id, last record and last checkpoint."""

    chain_id: str
    created_at: str
    last_seq: int
    last_hash: str
    checkpoint_seq: int
    checkpoint_at: str
    cases_seq: int  # records up to here are in audit_cases


class StoredRecord(NamedTuple):
    """One chained record as stored, with its content row if there is one.

    A named tuple rather than a dataclass: verification builds millions of these.
    """

    seq: int
    prev_hash: str
    hash: str
    body: str
    has_content: bool = False
    request: str | None = None
    response: str | None = None
    erased_at: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain had `count` records ending in `head_hash` at `seq`.

    `signature` covers the JCS `payload()` (every column; from schema version 2 also the
    RFC 9162 `root_hash`). Version 2 checkpoints also carry `note`, the same tree head as a
    C2SP signed note (tlog-checkpoint) for witnesses and proofs; `compact` is the compact
    range the root was computed from (not signed: it only speeds up the next checkpoint).
    """

    seq: int
    head_hash: str
    count: int
    signed_at: str
    chain_id: str
    key_id: str
    public_key: str  # raw Ed25519 public key, hex
    signature: str  # hex
    root_hash: str | None = None
    compact: str | None = None
    note: str | None = None

    def payload(self) -> bytes:
        return checkpoint_payload(
            self.chain_id,
            self.seq,
            self.head_hash,
            self.count,
            self.signed_at,
            self.key_id,
            self.root_hash,
        )


class Snapshot:
    """Reads inside one transaction, so head, records and checkpoints agree."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head(self) -> ChainHead:
        return ChainHead(*self.conn.execute(text(SELECT_HEAD)).one())

    def checkpoints(self) -> list[Checkpoint]:
        rows = self.conn.execute(
            text(
                "SELECT seq, head_hash, count, signed_at, chain_id, key_id, public_key,"
                " signature, root_hash, compact, note FROM audit_checkpoints ORDER BY seq"
            )
        )
        return [Checkpoint(*row) for row in rows]

    def record(self, seq: int) -> StoredRecord | None:
        """One record with its content row, or None."""
        for rec in self.records(seq_range=(seq, seq)):
            return rec
        return None

    def record_hashes(self, first: int, last: int) -> list[str]:
        """The hashes of records `first`..`last` (inclusive), in order."""
        rows = self.conn.execute(
            text("SELECT hash FROM audit_records WHERE seq >= :a AND seq <= :b ORDER BY seq"),
            {"a": first, "b": last},
        )
        return [str(r[0]) for r in rows]

    def tree(self) -> StoreTree:
        """Subtree hashes of this chain's RFC 9162 tree, from the cache where it can."""
        cache = {
            (int(level), int(idx)): bytes.fromhex(h)
            for level, idx, h in self.conn.execute(text("SELECT level, idx, hash FROM audit_tree"))
        }
        return StoreTree(self, cache)

    def records(
        self, case_id: str | None = None, seq_range: tuple[int, int] | None = None
    ) -> Iterator[StoredRecord]:
        """Records in seq order (optionally one case's), with their content rows.

        Reads through the driver's own cursor (server-side on PostgreSQL): verification
        streams millions of rows and SQLAlchemy's row layer would double the cost.
        """
        postgres = self.conn.dialect.name == "postgresql"
        sql = Statements.for_dialect(self.conn.dialect.name).records_sql(
            case_id is not None, seq_range is not None
        )
        params: tuple[Any, ...] = ()
        if case_id is not None:
            params = (case_id, case_id)
        elif seq_range is not None:
            params = seq_range
        raw: Any = self.conn.connection.dbapi_connection
        cursor = raw.cursor(name="phaseroute_audit_records") if postgres else raw.cursor()
        if postgres:
            cursor.itersize = 5000
        try:
            cursor.execute(sql, params)
            make = StoredRecord._make
            for row in cursor:
                yield make(row)
        finally:
            cursor.close()

    def count(self) -> int:
        return int(self.conn.execute(text("SELECT COUNT(*) FROM audit_records")).scalar_one())


class StoreTree(SubtreeSource):
    """`SubtreeSource` over a snapshot: perfect subtrees of 256+ leaves from `audit_tree`,
    smaller ranges hashed from the record hashes they cover (one query each)."""

    def __init__(self, snap: Snapshot, cache: dict[tuple[int, int], bytes]) -> None:
        super().__init__(())
        self._snap = snap
        self._cache = cache

    def subtree(self, start: int, end: int) -> bytes:
        n = end - start
        if n >= 1 << CACHE_LEVEL and n & (n - 1) == 0 and start % n == 0:
            cached = self._cache.get((n.bit_length() - 1, start // n))
            if cached is not None:
                return cached
        if n <= 1 << CACHE_LEVEL:
            hashes = self._snap.record_hashes(start + 1, end)
            if len(hashes) != n:
                raise StorageError(f"records {start + 1}..{end} are not all present")
            return SubtreeSource([leaf_hash(bytes.fromhex(h)) for h in hashes]).subtree(0, n)
        k = split_point(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))
