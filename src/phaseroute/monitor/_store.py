"""Shadow pairs and drift events in the project database (SQLite or PostgreSQL).

Pairs are kept per policy hash: a new policy starts a new comparison, since the route it
compares may have changed. Events (alarms, reverts) are what `phaseroute drift` and the
dashboard show as history; the audit trail holds the signed record of a revert.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from phaseroute.errors import StorageError
from phaseroute.storage.database import Migration, migrate

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_metadata = MetaData()
shadow_pairs = Table(
    "shadow_pairs",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", String(32), nullable=False),
    Column("workflow", String(100), nullable=False),
    Column("phase", String(100), nullable=False),
    Column("policy_hash", String(64), nullable=False),
    Column("routed_model", String(100), nullable=False),
    Column("top_model", String(100), nullable=False),
    Column("routed_score", Float, nullable=False),
    Column("top_score", Float, nullable=False),
    Column("scored_by", String(100), nullable=False),
    Column("shadow_cost", Text),
    Column("case_id", String(200)),
)
drift_events = Table(
    "drift_events",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", String(32), nullable=False),
    Column("workflow", String(100), nullable=False),
    Column("phase", String(100), nullable=False),
    Column("policy_hash", String(64), nullable=False),
    Column("action", String(20), nullable=False),  # alarm | revert
    Column("pairs", Integer, nullable=False),
    Column("gap", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("margin", Float, nullable=False),
    Column("audit_sequence", Integer),
)


def _create_v1(conn: Connection) -> None:
    _metadata.create_all(conn)
    conn.exec_driver_sql(
        "CREATE INDEX ix_shadow_pairs_phase ON shadow_pairs (policy_hash, workflow, phase, id)"
    )


MIGRATIONS = (Migration(1, "shadow_pairs and drift_events tables", _create_v1),)


@dataclass(frozen=True, slots=True)
class ShadowPair:
    """One live call answered by its routed model and, off the caller's path, the top tier."""

    recorded_at: datetime
    workflow: str
    phase: str
    policy_hash: str
    routed_model: str
    top_model: str
    routed_score: float  # 0..1
    top_score: float  # 0..1
    scored_by: str  # how the pair was scored, e.g. "label (expected from metadata)"
    shadow_cost: Decimal | None
    case_id: str | None = None

    @property
    def difference(self) -> float:
        return self.top_score - self.routed_score


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """An alarm or a revert, with the evidence it rested on."""

    recorded_at: datetime
    workflow: str
    phase: str
    policy_hash: str
    action: str
    pairs: int
    gap: float | None
    lower: float | None
    upper: float | None
    margin: float
    audit_sequence: int | None = None


def _row(record: ShadowPair | DriftEvent) -> dict[str, object]:
    row: dict[str, object] = {f.name: getattr(record, f.name) for f in fields(record)}
    row["recorded_at"] = record.recorded_at.strftime(TIME_FORMAT)
    if isinstance(record, ShadowPair):
        row["shadow_cost"] = None if record.shadow_cost is None else str(record.shadow_cost)
    return row


class MonitorStore:
    """Reads and writes shadow pairs and drift events."""

    def __init__(self, engine: Engine) -> None:
        migrate(engine, "monitor", MIGRATIONS)
        self.engine = engine

    def add_pair(self, pair: ShadowPair) -> None:
        self._insert(shadow_pairs, _row(pair))

    def add_event(self, event: DriftEvent) -> None:
        self._insert(drift_events, _row(event))

    def _insert(self, table: Table, row: dict[str, object]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table), [row])
        except SQLAlchemyError as e:
            raise StorageError(f"could not write to {table.name}: {e}") from e

    def _rows(self, table: Table, policy_hash: str | None) -> list[dict[str, object]]:
        """A table's rows in insertion order (of one policy hash, when given), without ids
        and with times parsed."""
        query = select(table).order_by(table.c.id)
        if policy_hash is not None:
            query = query.where(table.c.policy_hash == policy_hash)
        try:
            with self.engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
        except SQLAlchemyError as e:
            raise StorageError(f"could not read {table.name}: {e}") from e
        for row in rows:
            del row["id"]
            stamp = datetime.strptime(str(row["recorded_at"]), TIME_FORMAT)
            row["recorded_at"] = stamp.replace(tzinfo=UTC)
        return rows

    def pairs(self, policy_hash: str | None = None) -> Iterator[ShadowPair]:
        """Pairs in the order they were recorded (of one policy hash, when given)."""
        for row in self._rows(shadow_pairs, policy_hash):
            cost = row["shadow_cost"]
            row["shadow_cost"] = None if cost is None else Decimal(str(cost))
            yield ShadowPair(**row)  # type: ignore[arg-type]

    def events(self, policy_hash: str | None = None) -> list[DriftEvent]:
        """Alarms and reverts in the order they were raised."""
        return [DriftEvent(**row) for row in self._rows(drift_events, policy_hash)]  # type: ignore[arg-type]
