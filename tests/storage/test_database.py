"""Engine creation and per-component numbered migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from phaseroute.errors import DatabaseStateError
from phaseroute.storage.database import Migration, database_url, migrate, open_engine


def _create(name: str) -> Migration:
    def apply(conn: Connection) -> None:
        conn.execute(text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)"))

    return Migration(1, f"create {name}", apply)


def _add_column(name: str) -> Migration:
    def apply(conn: Connection) -> None:
        conn.execute(text(f"ALTER TABLE {name} ADD COLUMN note VARCHAR(20)"))

    return Migration(2, f"add note to {name}", apply)


def test_database_url_forms(tmp_path: Path) -> None:
    assert database_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    assert database_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert database_url(None) == "sqlite:///phaseroute.db"


def test_sqlite_is_wal_with_full_sync(sqlite_path: Path) -> None:
    engine = open_engine(sqlite_path)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_apply_once_in_order_and_refuse_newer_schemas(
    backend: str, request: pytest.FixtureRequest
) -> None:
    location = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else request.getfixturevalue("sqlite_path")
    )
    engine = open_engine(location)
    table = f"t_{backend}"
    assert migrate(engine, f"comp_{backend}", [_create(table)]) == 1
    assert migrate(engine, f"comp_{backend}", [_create(table)]) == 1  # idempotent
    assert migrate(engine, f"comp_{backend}", [_create(table), _add_column(table)]) == 2
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} (id, note) VALUES (1, 'ok')"))
    with pytest.raises(DatabaseStateError, match="newer than this phaseroute knows"):
        migrate(engine, f"comp_{backend}", [_create(table)])
    engine.dispose()


def test_migrations_must_be_numbered(sqlite_path: Path) -> None:
    with pytest.raises(ValueError, match=r"numbered 1\.\.n"):
        migrate(open_engine(sqlite_path), "c", [_add_column("x")])
