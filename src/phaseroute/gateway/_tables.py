"""The gateway's tables in the project database, created by numbered migrations.

``gateway_keys`` holds one row per API key: a public id safe to log, the SHA-256 of the
secret (never the secret), the workflows it may use and its own budgets.
``gateway_budget_spend`` holds, per budget scope and period, what has been spent and what is
reserved by calls in flight, in integer nano-dollars so that conditional UPDATEs compare
exactly on every database.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, Text

from phaseroute.storage.database import Migration

COMPONENT = "gateway"

metadata = MetaData()

keys = Table(
    "gateway_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("workflows", Text),  # JSON list of workflow names; NULL: every workflow
    Column("daily_usd", Text),  # exact decimal as text; NULL: no daily budget
    Column("monthly_usd", Text),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

spend = Table(
    "gateway_budget_spend",
    metadata,
    # key:<key id> | workflow:<workflow> | phase:<workflow>/<phase>
    Column("scope", String(250), primary_key=True),
    # day:YYYY-MM-DD | month:YYYY-MM (UTC)
    Column("period", String(16), primary_key=True),
    Column("spent_nanousd", BigInteger, nullable=False),
    Column("reserved_nanousd", BigInteger, nullable=False),
    Column("calls", Integer, nullable=False),
)


def _create_v1(conn: Connection) -> None:
    keys.create(conn)
    spend.create(conn)


MIGRATIONS = (Migration(1, "gateway keys and budget spend", _create_v1),)
