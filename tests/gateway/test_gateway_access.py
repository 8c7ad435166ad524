"""Authentication by x-api-key or Bearer, workflow scopes, revocation across replicas."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest
from access_support import plan_with

from phaseroute.errors import Forbidden, StorageError, Unauthenticated
from phaseroute.gateway._access import AccessControl, Caller
from phaseroute.gateway._keys import ApiKey, KeyStore


@pytest.fixture
def store(sqlite_path: Path) -> KeyStore:
    s = KeyStore.open(sqlite_path)
    yield s  # type: ignore[misc]
    s.close()


def _access(sqlite_path: Path, **kwargs: object) -> AccessControl:
    return AccessControl.open(plan_with(), sqlite_path, **kwargs)  # type: ignore[arg-type]


def test_keys_by_x_api_key_or_bearer(sqlite_path: Path, store: KeyStore) -> None:
    issued = store.create("ci", workflows=["wf"])
    access = _access(sqlite_path, start=False)
    try:
        expected = Caller(issued.key.key_id, "ci", frozenset({"wf"}))
        assert access.authenticate({"x-api-key": issued.secret}) == expected
        assert access.authenticate({"authorization": f"Bearer {issued.secret}"}) == expected
        assert access.authenticate({"Authorization": f"bearer  {issued.secret} "}) == expected
        # a provider key in x-api-key next to the gateway key as Bearer: the gateway key wins
        headers = {"x-api-key": "sk-ant-not-ours", "authorization": f"Bearer {issued.secret}"}
        assert access.authenticate(headers) == expected
    finally:
        access.close()


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "no API key"),
        ({"authorization": "Basic abc"}, "no API key"),
        ({"x-api-key": "phr_000000000000_guess"}, "unknown or revoked"),
        ({"authorization": "Bearer nope"}, "unknown or revoked"),
    ],
)
def test_missing_or_unknown_key_is_401(
    sqlite_path: Path, store: KeyStore, headers: dict[str, str], words: str
) -> None:
    store.create("ci")
    access = _access(sqlite_path, start=False)
    try:
        with pytest.raises(Unauthenticated) as info:
            access.authenticate(headers)
    finally:
        access.close()
    assert info.value.status == 401
    assert words in str(info.value)
    for value in headers.values():  # the presented key is never echoed back
        assert value.split()[-1] not in str(info.value)


def test_anonymous_callers_only_when_allowed(sqlite_path: Path) -> None:
    access = _access(sqlite_path, start=False, allow_anonymous=True)
    try:
        assert access.authenticate({}).key_id == "anonymous"
        with pytest.raises(Unauthenticated):
            access.authenticate({"x-api-key": "wrong"})  # a wrong key is never anonymous
    finally:
        access.close()


def test_a_key_may_use_only_its_workflows(sqlite_path: Path, store: KeyStore) -> None:
    scoped = store.create("scoped", workflows=["wf"])
    free = store.create("free")
    access = _access(sqlite_path, start=False)
    try:
        caller = access.authenticate({"x-api-key": scoped.secret})
        access.authorize(caller, "wf")
        with pytest.raises(Forbidden) as info:
            access.authorize(caller, "other")
        assert info.value.status == 403
        assert "may not use workflow 'other'; it may use: wf" in str(info.value)
        access.authorize(access.authenticate({"x-api-key": free.secret}), "other")
    finally:
        access.close()


def test_revocation_reaches_every_replica_within_the_refresh_interval(
    sqlite_path: Path, store: KeyStore
) -> None:
    issued = store.create("ci")
    replicas = [_access(sqlite_path, refresh_s=0.05) for _ in range(3)]
    try:
        for r in replicas:
            r.authenticate({"x-api-key": issued.secret})
        store.revoke(issued.key.key_id)
        deadline = time.monotonic() + 5
        pending = set(range(3))
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                try:
                    replicas[i].authenticate({"x-api-key": issued.secret})
                except Unauthenticated:
                    pending.discard(i)
            time.sleep(0.01)
        assert not pending, f"replicas {pending} still accept a revoked key"
        fresh = store.create("new")
        time.sleep(0.3)
        for r in replicas:
            assert r.authenticate({"x-api-key": fresh.secret}).name == "new"
    finally:
        for r in replicas:
            r.close()


class _FailingKeys(KeyStore):
    """A key store whose reloads fail once `failing` is set (the database went away)."""

    failing = False

    def active_by_hash(self) -> dict[str, ApiKey]:
        if self.failing:
            raise StorageError("the database is unreachable")
        return super().active_by_hash()


def test_authentication_fails_closed_when_keys_cannot_be_reloaded(sqlite_path: Path) -> None:
    keys = _FailingKeys.open(sqlite_path)
    issued = keys.create("ci")
    from phaseroute.gateway._budgets import BudgetBook

    access = AccessControl(
        plan_with(), keys, BudgetBook(keys.engine), refresh_s=0.02, stale_after_s=0.3
    )
    try:
        access.authenticate({"x-api-key": issued.secret})
        keys.failing = True
        time.sleep(0.1)
        access.authenticate({"x-api-key": issued.secret})  # within the bound: last keys
        time.sleep(0.4)
        with pytest.raises(StorageError) as info:
            access.authenticate({"x-api-key": issued.secret})
        assert "refusing calls rather than honour revoked keys" in str(info.value)
        keys.failing = False
        time.sleep(0.1)
        access.authenticate({"x-api-key": issued.secret})  # recovers with the database
    finally:
        access.close()
        keys.close()


def test_budget_lines_of_a_call(sqlite_path: Path, store: KeyStore) -> None:
    issued = store.create("ci", daily_usd=Decimal(5), monthly_usd=Decimal(50))
    plan = plan_with({"wf": {"monthly_usd": 100, "phases": {"decide": {"daily_usd": "1.5"}}}})
    access = AccessControl.open(plan, sqlite_path, start=False)
    try:
        caller = access.authenticate({"x-api-key": issued.secret})
        lines = access.budget_lines(caller, "wf", "decide")
        assert [(x.scope, x.period.value, x.limit_usd) for x in lines] == [
            (f"key:{issued.key.key_id}", "day", Decimal(5)),
            (f"key:{issued.key.key_id}", "month", Decimal(50)),
            ("workflow:wf", "month", Decimal(100)),
            ("phase:wf/decide", "day", Decimal("1.5")),
        ]
        assert [x.scope for x in access.budget_lines(caller, "wf", "screen")] == [
            f"key:{issued.key.key_id}",
            f"key:{issued.key.key_id}",
            "workflow:wf",
        ]
        assert access.budget_lines(caller, "other", "solo")[2:] == ()
    finally:
        access.close()


def test_a_reloaded_policy_brings_its_budgets(sqlite_path: Path, store: KeyStore) -> None:
    issued = store.create("ci")
    access = AccessControl.open(plan_with(), sqlite_path, start=False)
    try:
        caller = access.authenticate({"x-api-key": issued.secret})
        assert access.budget_lines(caller, "wf", "decide") == ()
        access.set_plan(plan_with({"wf": {"daily_usd": 3}}))
        assert [x.scope for x in access.budget_lines(caller, "wf", "decide")] == ["workflow:wf"]
    finally:
        access.close()


def test_without_the_reload_thread_the_owner_refreshes(sqlite_path: Path, store: KeyStore) -> None:
    issued = store.create("ci")
    access = _access(sqlite_path, start=False, stale_after_s=0.05)
    try:
        time.sleep(0.1)  # no thread: staleness is the owner's business, never a refusal
        assert access.authenticate({"x-api-key": issued.secret}).name == "ci"
        store.revoke(issued.key.key_id)
        access.refresh()
        with pytest.raises(Unauthenticated):
            access.authenticate({"x-api-key": issued.secret})
    finally:
        access.close()


def test_a_key_budget_over_an_unpriced_model_refuses_rather_than_charging_nothing(
    sqlite_path: Path, store: KeyStore
) -> None:
    budgeted = store.create("capped", daily_usd=Decimal(5))
    free = store.create("uncapped")
    access = _access(sqlite_path, start=False)
    try:
        capped = access.authenticate({"x-api-key": budgeted.secret})
        with pytest.raises(Forbidden, match=r"cannot be enforced for wf/decide.*no price"):
            asyncio.run(access.reserve(capped, "wf", "decide", None))
        uncapped = access.authenticate({"x-api-key": free.secret})
        assert asyncio.run(access.reserve(uncapped, "wf", "decide", None)).empty
        held = asyncio.run(access.reserve(capped, "wf", "decide", Decimal("0.01")))
        assert not held.empty
    finally:
        access.close()
