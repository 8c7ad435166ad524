"""Shared fixtures: the PostgreSQL server, temporary SQLite databases, shared data paths.

PostgreSQL tests use the real server (default postgresql://postgres@127.0.0.1:5432/test,
override with PHASEROUTE_TEST_POSTGRES). Each test session gets its own throw-away
database so parallel runs never see each other's rows. Under CI=true an unreachable
server fails the run; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from project_paths import MMLU

POSTGRES_ADMIN_URL = os.environ.get(
    "PHASEROUTE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (dropped afterwards)."""
    import psycopg

    try:
        admin = _admin_connect()
    except psycopg.OperationalError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable under CI: {e}")
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {e}")
    name = f"phaseroute_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """Path of a fresh SQLite database file."""
    return tmp_path / "phaseroute.db"


@pytest.fixture(scope="session")
def mmlu_path() -> Path:
    if not MMLU.exists():
        pytest.fail(f"the shipped recorded data is missing: {MMLU}")
    return MMLU
