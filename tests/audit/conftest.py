"""Audit fixtures: a signing key, and a chain location per test on SQLite or PostgreSQL.

PostgreSQL tests share the session database but each gets its own schema (via the
connection's search_path), so every test starts from an empty chain cheaply.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _pg_schema_url(base: str) -> Iterator[str]:
    schema = f"audit_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_location(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a schema of their own."""
    yield from _pg_schema_url(postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty chain location on each store."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.db")
    else:
        yield from _pg_schema_url(request.getfixturevalue("postgres_url"))
