"""Budgets in USD per UTC day and month, exact across gateway replicas sharing a database.

Before the upstream call the gateway *reserves* an estimate of the call's cost on every
budget that applies (the key's, the workflow's, the phase's); after it, it *settles* the
reservation with the actual cost. A reservation is one transaction of conditional UPDATEs::

    UPDATE gateway_budget_spend SET reserved = reserved + :estimate
     WHERE scope = :scope AND period = :period AND spent + reserved + :estimate <= :limit

On PostgreSQL the UPDATE takes the row's lock and re-evaluates its condition on the newest
committed row, so concurrent replicas serialise on each budget row and none can admit a call
that another's reservation has already made unaffordable; on SQLite the database's single
writer does the same. Rows are locked in sorted order, so replicas never deadlock. Any
budget that would go over rolls the whole reservation back.

The invariant is ``spent + reserved <= limit`` at every admission. Hence:

* when estimates are upper bounds of the cost (the gateway derives them from ``max_tokens``),
  no budget is ever exceeded, whatever the number of replicas;
* when a call costs more than its estimate, settling charges the actual cost (a budget never
  under-counts), and the overspend of a period is at most the sum of ``cost - estimate`` over
  the calls in flight when the budget ran out — at most one call per replica when each
  replica has one call in flight, as in the replica tests;
* a settle with an unknown cost charges the estimate;
* a replica that dies mid-call leaves its reservation counted until the period ends (it errs
  towards refusing, never towards overspending).

Amounts are integer nano-dollars rounded up, so comparisons are exact on every database.

Budget rows are accounting, not the audit trail: their commits do not wait for the disk
(PostgreSQL ``synchronous_commit = off`` for these transactions; SQLite ``synchronous =
NORMAL`` on the gateway's own connections, see `AccessControl.open`). Exclusion between
replicas is unchanged — it comes from the row locks, not from flushing. What a crash of the
database *server* (or a power loss) can lose is the last fraction of a second of
reservations and charges, so a budget may under-count the calls committed in that window;
a crash of a gateway process loses nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from phaseroute.errors import BudgetExceeded, StorageError
from phaseroute.gateway import _tables as t
from phaseroute.storage.database import migrate

NANO = Decimal("1e9")


class Period(StrEnum):
    """A budget's period, in UTC calendar terms."""

    day = "day"
    month = "month"

    def key(self, now: datetime) -> str:
        """The period `now` falls in: ``day:2026-11-30`` or ``month:2026-11``."""
        utc = now.astimezone(UTC)
        return f"day:{utc:%Y-%m-%d}" if self is Period.day else f"month:{utc:%Y-%m}"

    def end(self, now: datetime) -> datetime:
        """The first instant after the period `now` falls in."""
        utc = now.astimezone(UTC)
        start = utc.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Period.day:
            return start + timedelta(days=1)
        start = start.replace(day=1)
        return (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else (start.replace(month=start.month + 1))
        )

    @property
    def adjective(self) -> str:
        return "daily" if self is Period.day else "monthly"


def to_nano(amount: Decimal) -> int:
    """USD as integer nano-dollars, rounded up (a budget never under-counts)."""
    return int((amount * NANO).to_integral_value(rounding=ROUND_CEILING))


def from_nano(amount: int) -> Decimal:
    return Decimal(amount) / NANO


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One limit that applies to a call: a scope (key, workflow or phase) and a period."""

    scope: str  # key:<key id> | workflow:<workflow> | phase:<workflow>/<phase>
    period: Period
    limit_usd: Decimal

    def describe(self) -> str:
        kind, _, name = self.scope.partition(":")
        return f"the {self.period.adjective} budget of {kind} {name!r}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """An estimate held on budget rows until the call is settled (exactly once)."""

    id: str
    rows: tuple[tuple[str, str], ...]  # (scope, period key), sorted
    amount_nanousd: int

    @property
    def empty(self) -> bool:
        return not self.rows


EMPTY_RESERVATION = Reservation("", (), 0)

_ENSURE = text(
    "INSERT INTO gateway_budget_spend (scope, period, spent_nanousd, reserved_nanousd, calls)"
    " VALUES (:scope, :period, 0, 0, 0) ON CONFLICT (scope, period) DO NOTHING"
)
_RESERVE = text(
    "UPDATE gateway_budget_spend SET reserved_nanousd = reserved_nanousd + :amount"
    " WHERE scope = :scope AND period = :period"
    " AND spent_nanousd + reserved_nanousd + :amount <= :limit"
)
_SETTLE = text(
    "UPDATE gateway_budget_spend SET reserved_nanousd = reserved_nanousd - :held,"
    " spent_nanousd = spent_nanousd + :cost, calls = calls + 1"
    " WHERE scope = :scope AND period = :period"
)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")
_READ = text(
    "SELECT spent_nanousd, reserved_nanousd, calls FROM gateway_budget_spend"
    " WHERE scope = :scope AND period = :period"
)


@dataclass(frozen=True, slots=True)
class BudgetUse:
    """What one budget row holds: spent and reserved USD, and the calls settled on it."""

    spent_usd: Decimal
    reserved_usd: Decimal
    calls: int


class BudgetBook:
    """Reserve and settle on the ``gateway_budget_spend`` rows of one database."""

    def __init__(self, engine: Engine) -> None:
        migrate(engine, t.COMPONENT, t.MIGRATIONS)
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._known_rows: set[tuple[str, str]] = set()

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def reserve(
        self, lines: Sequence[BudgetLine], estimate_usd: Decimal, now: datetime
    ) -> Reservation:
        """Hold `estimate_usd` on every line's current row, or raise `BudgetExceeded`."""
        if not lines:
            return EMPTY_RESERVATION
        amount = to_nano(max(estimate_usd, Decimal(0)))
        planned = sorted(
            ((line.scope, line.period.key(now)), line) for line in lines
        )  # one lock order for every replica: no deadlocks
        rows = tuple(row for row, _ in planned)
        try:
            self._ensure(rows)
            with self.engine.begin() as conn:
                self._no_flush_wait(conn)
                for (scope, period), line in planned:
                    params = {
                        "scope": scope,
                        "period": period,
                        "amount": amount,
                        "limit": to_nano(line.limit_usd),
                    }
                    if conn.execute(_RESERVE, params).rowcount != 1:
                        # leaving the block rolls back every row reserved so far
                        raise self._refusal(conn, line, period, amount, now)
        except SQLAlchemyError as e:
            raise StorageError(f"could not reserve budget in {self.describe()}: {e}") from e
        return Reservation(uuid.uuid4().hex, rows, amount)

    def settle(self, reservation: Reservation, cost_usd: Decimal | None) -> None:
        """Release the reservation and charge the actual cost (the estimate when unknown)."""
        if reservation.empty:
            return
        cost = (
            reservation.amount_nanousd if cost_usd is None else to_nano(max(cost_usd, Decimal(0)))
        )
        params = [
            {"scope": s, "period": p, "held": reservation.amount_nanousd, "cost": cost}
            for s, p in reservation.rows
        ]
        try:
            with self.engine.begin() as conn:
                self._no_flush_wait(conn)
                for row in params:
                    conn.execute(_SETTLE, row)
        except SQLAlchemyError as e:
            raise StorageError(f"could not settle budget in {self.describe()}: {e}") from e

    def use(self, scope: str, period: str) -> BudgetUse:
        """What the row of `scope` in `period` (a period key) holds now."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(_READ, {"scope": scope, "period": period}).first()
        except SQLAlchemyError as e:
            raise StorageError(f"could not read budget in {self.describe()}: {e}") from e
        if row is None:
            return BudgetUse(Decimal(0), Decimal(0), 0)
        return BudgetUse(from_nano(row[0]), from_nano(row[1]), row[2])

    def _no_flush_wait(self, conn: Connection) -> None:
        if self._postgres:
            conn.execute(_ASYNC_COMMIT)

    def _ensure(self, rows: Sequence[tuple[str, str]]) -> None:
        """Create the period's rows once (committed on their own, so a refusal that rolls
        back a reservation never takes a row this process believes exists)."""
        missing = [r for r in rows if r not in self._known_rows]
        if missing:
            with self.engine.begin() as conn:
                conn.execute(_ENSURE, [{"scope": s, "period": p} for s, p in missing])
            self._known_rows.update(missing)

    def _refusal(
        self, conn: Connection, line: BudgetLine, period: str, amount: int, now: datetime
    ) -> BudgetExceeded:
        row: Any = conn.execute(_READ, {"scope": line.scope, "period": period}).first()
        spent, reserved = (row[0], row[1]) if row is not None else (0, 0)
        end = line.period.end(now)
        wait = max((end - now).total_seconds(), 1.0)
        return BudgetExceeded(
            f"{line.describe()} is spent for {period.partition(':')[2]}: "
            f"${from_nano(spent):.6f} of ${line.limit_usd} used and "
            f"${from_nano(reserved):.6f} held by calls in flight; this call may cost up to "
            f"${from_nano(amount):.6f}. It renews at {end:%Y-%m-%dT%H:%M:%SZ} "
            f"(in {wait:.0f} s) — wait, lower max_tokens, or raise the budget",
            retry_after_s=wait,
        )
