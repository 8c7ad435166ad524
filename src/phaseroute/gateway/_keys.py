"""API keys of the gateway: issued once, stored hashed, revocable.

A key reads ``phr_<key id>_<secret>``: the key id (12 hex digits) is public and safe to log;
the secret is 256 random bits. Only the SHA-256 of the whole key is stored. A slow password
hash (bcrypt, scrypt, Argon2) protects secrets a person chose, which are guessable; a
256-bit random secret cannot be guessed from its SHA-256 at any hashing speed, and a fast
hash keeps authentication to about a microsecond per request.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from phaseroute.errors import RequestError, StorageError
from phaseroute.gateway import _tables as t
from phaseroute.storage.database import migrate, open_engine

KEY_PREFIX = "phr_"
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256 of its full text, as hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    workflows: frozenset[str] | None  # None: every workflow
    daily_usd: Decimal | None
    monthly_usd: Decimal | None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key: `secret` is the full key, shown to its owner once."""

    key: ApiKey
    secret: str


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _key(row: Sequence[Any]) -> ApiKey:
    key_id, name, workflows, daily, monthly, created, revoked = row
    created_at = _time(created)
    assert created_at is not None
    return ApiKey(
        key_id=key_id,
        name=name,
        workflows=None if workflows is None else frozenset(json.loads(workflows)),
        daily_usd=_decimal(daily),
        monthly_usd=_decimal(monthly),
        created_at=created_at,
        revoked_at=_time(revoked),
    )


_COLUMNS = (
    t.keys.c.key_id,
    t.keys.c.name,
    t.keys.c.workflows,
    t.keys.c.daily_usd,
    t.keys.c.monthly_usd,
    t.keys.c.created_at,
    t.keys.c.revoked_at,
)


class KeyStore:
    """The ``gateway_keys`` table: create, list, revoke, and the active keys by hash."""

    def __init__(self, engine: Engine, *, dispose_engine: bool = False) -> None:
        migrate(engine, t.COMPONENT, t.MIGRATIONS)
        self.engine = engine
        self._dispose = dispose_engine

    @classmethod
    def open(cls, location: str | Path | None = None) -> KeyStore:
        """Open (and migrate) the key table of the database at `location`."""
        return cls(open_engine(location), dispose_engine=True)

    def close(self) -> None:
        if self._dispose:
            self.engine.dispose()

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def create(
        self,
        name: str,
        *,
        workflows: Iterable[str] | None = None,
        daily_usd: Decimal | None = None,
        monthly_usd: Decimal | None = None,
        now: datetime | None = None,
    ) -> IssuedKey:
        """Issue a key: store its hash and limits, return the key text (the only time)."""
        name = name.strip()
        if not name:
            raise RequestError("--name: a key needs a name (who or what uses it)")
        for label, value in (("--daily-usd", daily_usd), ("--monthly-usd", monthly_usd)):
            if value is not None and (not value.is_finite() or value <= 0):
                raise RequestError(f"{label} {value}: a budget is a positive amount of USD")
        allowed = None if workflows is None else frozenset(workflows)
        created = (now or datetime.now(tz=UTC)).astimezone(UTC)
        for _ in range(3):  # a 48-bit key id collides about never; retry if it does
            key_id = secrets.token_hex(6)
            secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            row = {
                "key_id": key_id,
                "name": name,
                "key_hash": hash_key(secret),
                "workflows": None if allowed is None else json.dumps(sorted(allowed)),
                "daily_usd": None if daily_usd is None else str(daily_usd),
                "monthly_usd": None if monthly_usd is None else str(monthly_usd),
                "created_at": created.strftime(TIME_FORMAT),
                "revoked_at": None,
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(t.keys).values(**row))
            except IntegrityError:
                continue
            except SQLAlchemyError as e:
                raise StorageError(f"could not store the key in {self.describe()}: {e}") from e
            key = ApiKey(key_id, name, allowed, daily_usd, monthly_usd, created)
            return IssuedKey(key, secret)
        raise StorageError("could not find a free key id after three tries")  # pragma: no cover

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Keys by creation time (active only, unless `include_revoked`)."""
        query = select(*_COLUMNS).order_by(t.keys.c.created_at, t.keys.c.key_id)
        if not include_revoked:
            query = query.where(t.keys.c.revoked_at.is_(None))
        try:
            with self.engine.connect() as conn:
                return [_key(row) for row in conn.execute(query)]
        except SQLAlchemyError as e:
            raise StorageError(f"could not read the keys in {self.describe()}: {e}") from e

    def revoke(self, key_id: str, *, now: datetime | None = None) -> ApiKey:
        """Revoke a key by its id; revoking a revoked key changes nothing."""
        key_id = key_id.strip()
        if key_id.startswith(KEY_PREFIX):
            raise RequestError(
                "keys revoke takes the key id (the 12 hex digits `keys list` shows), "
                "not the key itself — never paste a secret on a command line"
            )
        if not _KEY_ID.match(key_id):
            raise RequestError(
                f"{key_id!r} is not a key id — use the 12 hex digits `phaseroute keys list` shows"
            )
        moment = (now or datetime.now(tz=UTC)).astimezone(UTC).strftime(TIME_FORMAT)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(t.keys)
                    .where(t.keys.c.key_id == key_id, t.keys.c.revoked_at.is_(None))
                    .values(revoked_at=moment)
                )
                row = conn.execute(select(*_COLUMNS).where(t.keys.c.key_id == key_id)).first()
        except SQLAlchemyError as e:
            raise StorageError(f"could not revoke the key in {self.describe()}: {e}") from e
        if row is None:
            raise RequestError(
                f"no key with id {key_id!r} in {self.describe()} — `phaseroute keys list` "
                "shows the ids"
            )
        return _key(row)

    def active_by_hash(self) -> dict[str, ApiKey]:
        """Every active key, by the hash of its text: what the gateway authenticates with."""
        query = select(t.keys.c.key_hash, *_COLUMNS).where(t.keys.c.revoked_at.is_(None))
        try:
            with self.engine.connect() as conn:
                return {row[0]: _key(row[1:]) for row in conn.execute(query)}
        except SQLAlchemyError as e:
            raise StorageError(f"could not read the keys in {self.describe()}: {e}") from e
