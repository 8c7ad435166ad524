"""The project database: one SQLAlchemy engine, SQLite by default, PostgreSQL for scale.

Each component (audit, accounting, cache, ...) owns an ordered list of numbered
migrations; applied versions are recorded per component in ``phaseroute_migrations`` so
components evolve independently and a database newer than this code is refused clearly.

SQLite runs in WAL mode with ``synchronous=FULL``: in WAL mode FULL syncs the log on every
commit, so a commit that returned survives power loss (NORMAL would only survive a process
crash). The audit trail's promise "an append that returned is durable" rests on this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from phaseroute.errors import DatabaseStateError, RequestError, StorageError

DEFAULT_DATABASE = "phaseroute.db"


@dataclass(frozen=True)
class Migration:
    """One numbered schema step of one component."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def database_url(location: str | Path | None) -> str:
    """Turn a user's database location (URL or SQLite file path) into a SQLAlchemy URL.

    ``postgresql://`` URLs use psycopg 3; anything without a scheme is a SQLite file path.
    """
    if location is None:
        location = DEFAULT_DATABASE
    loc = str(location)
    if "://" not in loc:
        return f"sqlite:///{Path(loc).expanduser()}"
    if loc.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + loc.split("://", 1)[1]
    return loc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def open_engine(location: str | Path | None = None, **kwargs: Any) -> Engine:
    """Create an engine for `location`, with SQLite's durability pragmas applied."""
    url = database_url(location)
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise RequestError(
            f"database location {location!r} is not a valid URL or file path — "
            "use a file path or postgresql://user@host:port/db"
        ) from e
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The default pysqlite transaction handling is replaced by explicit BEGINs so that
        # "BEGIN IMMEDIATE" can serialise writers (see `begin_immediate`).
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    return engine


_MIGRATIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS phaseroute_migrations ("
    " component VARCHAR(64) NOT NULL,"
    " version INTEGER NOT NULL,"
    " description VARCHAR(200) NOT NULL,"
    " applied_at VARCHAR(40) NOT NULL,"
    " PRIMARY KEY (component, version))"
)


def migrate(engine: Engine, component: str, migrations: Sequence[Migration]) -> int:
    """Apply the component's pending migrations in order; return the resulting version.

    Safe to call from several processes at once: on PostgreSQL an advisory lock
    serialises migrators; on SQLite the write lock does.
    """
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"{component} migrations must be numbered 1..n, got {versions}")
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext('phaseroute_migrations'))")
                )
            conn.execute(text(_MIGRATIONS_DDL))
            applied = {
                row[0]
                for row in conn.execute(
                    text("SELECT version FROM phaseroute_migrations WHERE component = :c"),
                    {"c": component},
                )
            }
            newest_known = len(migrations)
            if applied and max(applied) > newest_known:
                raise DatabaseStateError(
                    f"database {engine.url.render_as_string(hide_password=True)} has "
                    f"{component} schema version {max(applied)}, newer than this phaseroute "
                    f"knows ({newest_known}) — upgrade phaseroute or use another database"
                )
            for m in migrations:
                if m.version in applied:
                    continue
                m.apply(conn)
                conn.execute(
                    text(
                        "INSERT INTO phaseroute_migrations"
                        " (component, version, description, applied_at)"
                        " VALUES (:c, :v, :d, CURRENT_TIMESTAMP)"
                    ),
                    {"c": component, "v": m.version, "d": m.description},
                )
    except SQLAlchemyError as e:
        raise StorageError(f"could not migrate the {component} schema: {e}") from e
    return len(migrations)
