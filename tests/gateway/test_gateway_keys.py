"""API keys: shown once, stored as SHA-256 only, listed and revoked by their public id."""

from __future__ import annotations

import hashlib
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from phaseroute.errors import RequestError
from phaseroute.gateway._keys import KeyStore, hash_key


def test_a_key_is_shown_once_and_stored_only_as_its_hash(sqlite_path: Path) -> None:
    store = KeyStore.open(sqlite_path)
    try:
        issued = store.create("ci", workflows=["wf"], daily_usd=Decimal("2.50"))
    finally:
        store.close()
    key = issued.key
    assert issued.secret.startswith(f"phr_{key.key_id}_")
    assert len(issued.secret) >= len("phr_") + 12 + 1 + 43  # 256-bit secret, base64url
    assert key.workflows == frozenset({"wf"})
    assert key.daily_usd == Decimal("2.50")
    assert key.monthly_usd is None
    with sqlite3.connect(sqlite_path) as conn:
        rows = conn.execute("SELECT * FROM gateway_keys").fetchall()
    (row,) = rows
    stored = "|".join(map(str, row))
    secret_part = issued.secret.rsplit("_", 1)[1]
    assert secret_part not in stored
    assert hashlib.sha256(issued.secret.encode()).hexdigest() in stored
    assert hash_key(issued.secret) in stored


def test_two_keys_never_share_id_or_secret(sqlite_path: Path) -> None:
    store = KeyStore.open(sqlite_path)
    try:
        a, b = store.create("a"), store.create("b")
    finally:
        store.close()
    assert a.key.key_id != b.key.key_id
    assert a.secret != b.secret


def test_list_and_revoke(sqlite_path: Path) -> None:
    store = KeyStore.open(sqlite_path)
    try:
        a = store.create("a")
        b = store.create("b", monthly_usd=Decimal(100))
        assert [k.key_id for k in store.list()] == [a.key.key_id, b.key.key_id]
        revoked = store.revoke(a.key.key_id)
        assert revoked.revoked_at is not None
        assert not revoked.active
        assert [k.key_id for k in store.list()] == [b.key.key_id]
        assert len(store.list(include_revoked=True)) == 2
        again = store.revoke(a.key.key_id)
        assert again.revoked_at == revoked.revoked_at  # revoking twice changes nothing
        assert set(store.active_by_hash()) == {hash_key(b.secret)}
    finally:
        store.close()


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("0123456789ab", "no key with id '0123456789ab'"),
        ("nonsense", "not a key id"),
        ("phr_0123456789ab_secret", "not the key itself"),
    ],
)
def test_revoke_names_the_mistake(sqlite_path: Path, given: str, words: str) -> None:
    store = KeyStore.open(sqlite_path)
    try:
        with pytest.raises(RequestError) as info:
            store.revoke(given)
    finally:
        store.close()
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": " "}, "needs a name"),
        ({"name": "x", "daily_usd": Decimal(0)}, "--daily-usd 0"),
        ({"name": "x", "monthly_usd": Decimal(-1)}, "--monthly-usd -1"),
    ],
)
def test_create_refuses_bad_input(sqlite_path: Path, kwargs: dict[str, object], words: str) -> None:
    store = KeyStore.open(sqlite_path)
    try:
        with pytest.raises(RequestError) as info:
            store.create(**kwargs)  # type: ignore[arg-type]
    finally:
        store.close()
    assert words in str(info.value)
