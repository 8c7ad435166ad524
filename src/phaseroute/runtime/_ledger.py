"""The usage ledger: one row per billed completion, totals per phase and workflow.

Rows are handed to a writer thread and committed in batches, so accounting adds
microseconds, not an fsync, to a call. `flush()` and `close()` block until every row
accepted so far is committed (a process killed before that loses the unflushed rows:
accounting is not the audit trail, which is durable on return). Costs are stored exactly
as text and, for SQL sums, as integer nano-dollars.
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    case,
    false,
    func,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from phaseroute.errors import StorageError
from phaseroute.storage.database import Migration, migrate, open_engine

_log = logging.getLogger("phaseroute.accounting")
NANO = Decimal("1e9")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order


def _v1_columns() -> list[Column[Any]]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("recorded_at", String(32), nullable=False),
        Column("workflow", String(100), nullable=False),
        Column("phase", String(100), nullable=False),
        Column("model", String(100), nullable=False),
        Column("model_id", String(300), nullable=False),
        Column("model_reported", String(300)),
        Column("provider", String(100), nullable=False),
        Column("tier", String(100), nullable=False),
        Column("required_tier", String(100), nullable=False),
        Column("outcome", String(20), nullable=False),
        Column("input_tokens", Integer, nullable=False),
        Column("output_tokens", Integer, nullable=False),
        Column("cache_read_tokens", Integer, nullable=False),
        Column("cache_write_tokens", Integer, nullable=False),
        Column("cost", Text),
        Column("cost_nanousd", BigInteger),
        Column("counterfactual_cost", Text),
        Column("counterfactual_nanousd", BigInteger),
        Column("latency_s", Float, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("fell_back", Boolean, nullable=False),
        Column("degraded", Boolean, nullable=False),
        Column("stream", Boolean, nullable=False),
        Column("policy_hash", String(64), nullable=False),
        Column("price_version", String(200)),
        Column("case_id", String(200)),
        Column("request_id", String(200)),
    ]


_metadata = MetaData()
usage_calls = Table(
    "usage_calls",
    _metadata,
    *_v1_columns(),
    Column("batch", Boolean, nullable=False, server_default=false()),
    Column("item_predictor", String(64)),
    Column("item_score", Float),
    Column("item_threshold", Float),
)


def _create_v1(conn: Connection) -> None:
    Table("usage_calls", MetaData(), *_v1_columns()).create(conn)
    conn.exec_driver_sql(
        "CREATE INDEX ix_usage_calls_wf_phase_time ON usage_calls (workflow, phase, recorded_at)"
    )


def _add_batch(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE usage_calls ADD COLUMN batch BOOLEAN NOT NULL DEFAULT FALSE")


def _add_item_columns(conn: Connection) -> None:
    for name, kind in (
        ("item_predictor", "VARCHAR(64)"),
        ("item_score", "DOUBLE PRECISION"),
        ("item_threshold", "DOUBLE PRECISION"),
    ):
        conn.exec_driver_sql(f"ALTER TABLE usage_calls ADD COLUMN {name} {kind}")


MIGRATIONS = (
    Migration(1, "usage_calls table", _create_v1),
    Migration(2, "usage_calls.batch: served by a provider's batch API", _add_batch),
    Migration(
        3, "usage_calls.item_*: per-item routing's predictor, score, threshold", _add_item_columns
    ),
)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One billed completion (or one call that could not be served: outcome unavailable)."""

    recorded_at: datetime
    workflow: str
    phase: str
    model: str
    model_id: str
    model_reported: str | None
    provider: str
    tier: str
    required_tier: str
    # served | escalated (discarded) | incomplete | unavailable | cancelled (the caller went
    # away first) | shadow (a production comparison on the top tier: booked apart, never
    # counted as routed traffic)
    outcome: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: Decimal | None
    counterfactual_cost: Decimal | None
    latency_s: float
    attempts: int
    fell_back: bool
    degraded: bool
    stream: bool
    policy_hash: str
    price_version: str | None = None
    case_id: str | None = None
    request_id: str | None = None
    batch: bool = False  # served by a provider's batch API (priced at batch rates)
    item_predictor: str | None = None  # per-item routing: predictor hash, score, threshold
    item_score: float | None = None
    item_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Sums over the ledger's rows for one workflow/phase (phase None: the whole workflow)."""

    workflow: str
    phase: str | None
    calls: int
    served: int
    escalated: int
    incomplete: int
    unavailable: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: Decimal  # over rows with a known price
    unpriced: int  # rows whose cost is unknown
    counterfactual_cost: Decimal
    first: str | None
    last: str | None
    batch_calls: int = 0

    @property
    def cached_share(self) -> float | None:
        """Share of input tokens read from the prompt cache (None without input)."""
        total = self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
        return None if total == 0 else self.cache_read_tokens / total

    @property
    def saving(self) -> Decimal:
        """What uniform use of the top tier's primary model would have cost more."""
        return self.counterfactual_cost - self.cost


def _nano(value: Decimal | None) -> int | None:
    if value is None:
        return None
    return int((value * NANO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


_FIELDS = tuple(f.name for f in fields(UsageRecord))


def _row(record: UsageRecord) -> dict[str, object]:
    row = {name: getattr(record, name) for name in _FIELDS}
    row["recorded_at"] = record.recorded_at.strftime(TIME_FORMAT)
    row["cost"] = None if record.cost is None else str(record.cost)
    row["cost_nanousd"] = _nano(record.cost)
    row["counterfactual_cost"] = (
        None if record.counterfactual_cost is None else str(record.counterfactual_cost)
    )
    row["counterfactual_nanousd"] = _nano(record.counterfactual_cost)
    return row


class _Writer:
    """The batching writer thread; separate from the ledger so a finalizer can drain it."""

    def __init__(self, engine: Engine, batch_size: int, flush_interval_s: float) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.queue: queue.SimpleQueue[UsageRecord] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.cond = threading.Condition()
        self.accepted = 0
        self.settled = 0  # rows committed or given up on
        self.failed: list[dict[str, object]] = []
        # write() runs on the writer thread and, to retry failed rows, on flush()/close()
        # callers: one at a time, or the failed rows could be inserted twice.
        self.write_lock = threading.Lock()
        self.error: str | None = None
        self.thread: threading.Thread | None = None
        self.closed = False

    def put(self, record: UsageRecord) -> None:
        # Rows are converted and written on the writer thread; the caller only enqueues.
        with self.cond:
            if self.closed:
                raise StorageError("the usage ledger is closed")
            self.accepted += 1
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self.run, name="phaseroute-usage-ledger", daemon=True
                )
                self.thread.start()
        self.queue.put(record)

    def run(self) -> None:
        while True:
            self.wake.wait(self.flush_interval_s)
            self.wake.clear()
            with self.cond:
                stop = self.closed
            while True:
                batch: list[dict[str, object]] = []
                while len(batch) < self.batch_size:
                    try:
                        batch.append(_row(self.queue.get_nowait()))
                    except queue.Empty:
                        break
                if not batch:
                    break
                self.write(batch)
            if stop:
                return

    def write(self, batch: list[dict[str, object]]) -> None:
        with self.write_lock:
            self._write(batch)

    def _write(self, batch: list[dict[str, object]]) -> None:
        rows = self.failed + batch
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(usage_calls), rows)
        except SQLAlchemyError as e:
            _log.warning("could not write %d usage rows (kept for retry): %s", len(rows), e)
            with self.cond:
                self.failed = rows
                self.error = str(e)
                self.settled += len(batch)
                self.cond.notify_all()
            return
        with self.cond:
            self.failed = []
            self.error = None
            self.settled += len(batch)
            self.cond.notify_all()

    def flush(self, timeout: float | None) -> None:
        self.wake.set()
        with self.cond:
            target = self.accepted
            alive = self.thread is not None and self.thread.is_alive()
            if alive and not self.cond.wait_for(lambda: self.settled >= target, timeout):
                raise StorageError(f"usage rows were not written within {timeout}s")
        if self.failed:
            self.write([])  # one more try for rows an earlier batch could not write
        if self.failed:
            raise StorageError(f"{len(self.failed)} usage rows could not be written: {self.error}")

    def close(self) -> None:
        with self.cond:
            if self.closed:
                return
            self.closed = True
            thread = self.thread
        if thread is not None:
            self.wake.set()
            thread.join()
        if self.failed:
            self.write([])


class UsageLedger:
    """Tokens and cost of every routed call, persisted in the project database."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        dispose_engine: bool = False,
    ) -> None:
        migrate(engine, "accounting", MIGRATIONS)
        self.engine = engine
        self._writer = _Writer(engine, batch_size, flush_interval_s)
        self._dispose = dispose_engine
        # Drain the queue at interpreter exit even if the owner forgot to close.
        self._finalizer = weakref.finalize(self, self._writer.close)

    @classmethod
    def open(cls, location: str | Path | None = None, **kwargs: object) -> UsageLedger:
        """A ledger on the database at `location` (SQLite path or postgresql:// URL)."""
        return cls(open_engine(location), dispose_engine=True, **kwargs)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        """The database URL (with its password, for opening siblings on the same database)."""
        return self.engine.url.render_as_string(hide_password=False)

    def record(self, record: UsageRecord) -> None:
        """Queue one row for writing; returns at once."""
        self._writer.put(record)

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until every row recorded so far is committed; `StorageError` if it cannot be."""
        self._writer.flush(timeout)

    def close(self) -> None:
        """Write every accepted row, stop the writer and release the engine."""
        self._finalizer()
        failed = len(self._writer.failed)
        if self._dispose:
            self.engine.dispose()
        if failed:
            raise StorageError(
                f"{failed} usage rows could not be written before closing: {self._writer.error}"
            )

    # ------------------------------------------------------------------ queries

    def totals(
        self,
        *,
        workflow: str | None = None,
        phase: str | None = None,
        since: datetime | None = None,
        by_phase: bool = True,
    ) -> list[UsageTotals]:
        """Sums per workflow and phase (or per workflow when `by_phase` is False)."""
        t = usage_calls.c
        keys = [t.workflow, t.phase] if by_phase else [t.workflow]

        def count(outcome: str) -> Any:
            return func.coalesce(func.sum(case((t.outcome == outcome, 1), else_=0)), 0)

        query: Select[Any] = select(
            *keys,
            func.count(),
            count("served"),
            count("escalated"),
            count("incomplete"),
            count("unavailable"),
            func.coalesce(func.sum(t.input_tokens), 0),
            func.coalesce(func.sum(t.output_tokens), 0),
            func.coalesce(func.sum(t.cache_read_tokens), 0),
            func.coalesce(func.sum(t.cache_write_tokens), 0),
            func.coalesce(func.sum(t.cost_nanousd), 0),
            func.coalesce(
                func.sum(case((t.cost_nanousd.is_(None), 1), else_=0)), 0
            ),  # rows with an unknown price
            func.coalesce(func.sum(t.counterfactual_nanousd), 0),
            func.min(t.recorded_at),
            func.max(t.recorded_at),
            func.coalesce(func.sum(case((t.batch, 1), else_=0)), 0),
        )
        query = self._where(query, workflow, phase, since).where(t.outcome != "shadow")
        query = query.group_by(*keys).order_by(*keys)
        out: list[UsageTotals] = []
        try:
            with self.engine.connect() as conn:
                for row in conn.execute(query):
                    values = list(row)
                    wf = str(values.pop(0))
                    ph = str(values.pop(0)) if by_phase else None
                    (
                        calls, served, escalated, incomplete, unavailable,
                        tin, tout, tcr, tcw, cost, unpriced, cf, first, last, batch,
                    ) = values  # fmt: skip
                    out.append(
                        UsageTotals(
                            wf, ph, int(calls), int(served), int(escalated), int(incomplete),
                            int(unavailable), int(tin), int(tout), int(tcr), int(tcw),
                            Decimal(str(cost)) / NANO, int(unpriced), Decimal(str(cf)) / NANO,
                            first, last, int(batch),
                        )
                    )  # fmt: skip
        except SQLAlchemyError as e:
            raise StorageError(f"could not read usage totals: {e}") from e
        return out

    def shadow_spend(
        self, *, since: datetime | None = None
    ) -> dict[tuple[str, str], tuple[int, Decimal]]:
        """Shadow calls and their cost per (workflow, phase) they compared."""
        t = usage_calls.c
        query: Select[Any] = select(
            t.workflow, t.phase, func.count(), func.coalesce(func.sum(t.cost_nanousd), 0)
        ).where(t.outcome == "shadow")
        query = self._where(query, None, None, since).group_by(t.workflow, t.phase)
        try:
            with self.engine.connect() as conn:
                return {
                    (str(wf), str(ph)): (int(n), Decimal(str(cost)) / NANO)
                    for wf, ph, n, cost in conn.execute(query)
                }
        except SQLAlchemyError as e:
            raise StorageError(f"could not read shadow spend: {e}") from e

    def reliability(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Routed calls that fell back and that were degraded, per (workflow, phase)."""
        t = usage_calls.c
        query: Select[Any] = (
            select(
                t.workflow,
                t.phase,
                func.coalesce(func.sum(case((t.fell_back, 1), else_=0)), 0),
                func.coalesce(func.sum(case((t.degraded, 1), else_=0)), 0),
            )
            .where(t.outcome != "shadow")
            .group_by(t.workflow, t.phase)
        )
        try:
            with self.engine.connect() as conn:
                return {(str(w), str(p)): (int(f), int(d)) for w, p, f, d in conn.execute(query)}
        except SQLAlchemyError as e:
            raise StorageError(f"could not read fallback counts: {e}") from e

    def series(
        self, *, by: str = "day", since: datetime | None = None
    ) -> list[tuple[str, Decimal, Decimal]]:
        """Routed spend and its uniform-top-tier counterfactual per day, hour or minute,
        oldest first: (period, cost, counterfactual), the period as ``YYYY-MM-DD[THH[:MM]]``."""
        width = {"day": 10, "hour": 13, "minute": 16}[by]
        t = usage_calls.c
        period = func.substr(t.recorded_at, 1, width)
        query: Select[Any] = select(
            period,
            func.coalesce(func.sum(t.cost_nanousd), 0),
            func.coalesce(func.sum(t.counterfactual_nanousd), 0),
        ).where(t.outcome != "shadow")
        query = self._where(query, None, None, since).group_by(period).order_by(period)
        try:
            with self.engine.connect() as conn:
                return [
                    (str(p), Decimal(str(c)) / NANO, Decimal(str(cf)) / NANO)
                    for p, c, cf in conn.execute(query)
                ]
        except SQLAlchemyError as e:
            raise StorageError(f"could not read the spend series: {e}") from e

    def records(
        self,
        *,
        workflow: str | None = None,
        phase: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, object]]:
        """The raw rows (oldest first), as stored."""
        query = self._where(select(usage_calls), workflow, phase, since).order_by(usage_calls.c.id)
        try:
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(query)]
        except SQLAlchemyError as e:
            raise StorageError(f"could not read usage rows: {e}") from e

    @staticmethod
    def _where(
        query: Select[Any], workflow: str | None, phase: str | None, since: datetime | None
    ) -> Select[Any]:
        t = usage_calls.c
        if workflow is not None:
            query = query.where(t.workflow == workflow)
        if phase is not None:
            query = query.where(t.phase == phase)
        if since is not None:
            query = query.where(t.recorded_at >= since.astimezone(UTC).strftime(TIME_FORMAT))
        return query
