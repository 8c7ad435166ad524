"""Who may call the gateway, for which workflows, and within which budgets.

`AccessControl` authenticates a request from its key (``x-api-key`` or
``Authorization: Bearer``) against an in-memory map of key hashes, so authentication costs a
SHA-256 and a dict lookup and never waits for the database. A background thread reloads the
map every `refresh_s` seconds (default 2): a key created or revoked on any replica, or with
``phaseroute keys``, is honoured by every replica within `refresh_s` plus one reload. If
reloads keep failing for `stale_after_s` (default 30), authentication fails closed with a
`StorageError` rather than honour revoked keys indefinitely.

Budgets come from the key (``keys create --daily-usd/--monthly-usd``) and from the policy's
``budgets:`` section (per workflow and per phase); see `phaseroute.gateway._budgets` for how
reservations stay exact across replicas.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, event

from phaseroute.errors import Forbidden, PhaserouteError, StorageError, Unauthenticated
from phaseroute.gateway._budgets import (
    EMPTY_RESERVATION,
    BudgetBook,
    BudgetLine,
    Period,
    Reservation,
)
from phaseroute.gateway._keys import ApiKey, KeyStore, hash_key
from phaseroute.policy import RoutingPlan
from phaseroute.storage.database import open_engine

_log = logging.getLogger("phaseroute.gateway.access")

ANONYMOUS = "anonymous"
_Scope = tuple[str, str | None]  # (workflow, phase); phase None: the whole workflow


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated client of one request: its key's public id, name and workflows."""

    key_id: str
    name: str
    workflows: frozenset[str] | None  # None: every workflow


@dataclass(frozen=True, slots=True)
class _Snapshot:
    callers: Mapping[str, Caller]  # by key hash
    keys: Mapping[str, ApiKey]  # by key id
    loaded_at: float  # monotonic


def _presented(headers: Mapping[str, str]) -> list[str]:
    """The keys a request presents, ``x-api-key`` first, then a Bearer token."""
    api_key = headers.get("x-api-key")
    auth = headers.get("authorization")
    if api_key is None and auth is None and not hasattr(headers, "getlist"):
        # a plain dict may spell header names in any case
        lowered = {k.lower(): v for k, v in headers.items()}
        api_key, auth = lowered.get("x-api-key"), lowered.get("authorization")
    found = []
    if api_key:
        found.append(api_key.strip())
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found.append(token.strip())
    return found


class AccessControl:
    """Authenticates keys, authorises workflows and holds budgets for the gateway."""

    def __init__(
        self,
        plan: RoutingPlan,
        keys: KeyStore,
        book: BudgetBook,
        *,
        refresh_s: float = 2.0,
        stale_after_s: float = 30.0,
        allow_anonymous: bool = False,
        clock: Callable[[], datetime] | None = None,
        close_engine: Engine | None = None,
        start: bool = True,
    ) -> None:
        self.plan = plan
        self.keys = keys
        self.book = book
        self.refresh_s = refresh_s
        self.stale_after_s = stale_after_s
        self.allow_anonymous = allow_anonymous
        self._clock = clock or (lambda: datetime.now(tz=UTC))
        self._close_engine = close_engine
        self._policy_lines = self._lines_from_policy(plan)
        self._snapshot = _Snapshot(MappingProxyType({}), MappingProxyType({}), float("-inf"))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()
        if start:
            self._thread = threading.Thread(
                target=self._reload_loop, name="phaseroute-keys", daemon=True
            )
            self._thread.start()

    @classmethod
    def open(
        cls,
        plan: RoutingPlan,
        location: str | Path,
        **kwargs: object,
    ) -> AccessControl:
        """Access control on the database at `location` (its tables migrated if needed).

        The engine is its own: on SQLite its connections commit with ``synchronous=NORMAL``
        (durable across a process crash; budget rows are accounting, see `_budgets`).
        """
        engine = open_engine(location)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_normal_sync)
        try:
            keys, book = KeyStore(engine), BudgetBook(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(plan, keys, book, close_engine=engine, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop reloading keys and release the database."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._close_engine is not None:
            self._close_engine.dispose()
            self._close_engine = None

    # ------------------------------------------------------------------ keys

    def refresh(self) -> None:
        """Reload the active keys now (the background thread does this every `refresh_s`)."""
        active = self.keys.active_by_hash()
        callers = {h: Caller(k.key_id, k.name, k.workflows) for h, k in active.items()}
        self._snapshot = _Snapshot(
            MappingProxyType(callers),
            MappingProxyType({k.key_id: k for k in active.values()}),
            time.monotonic(),
        )

    def _reload_loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except PhaserouteError as e:
                _log.warning("could not reload the gateway keys (keeping the last ones): %s", e)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller a request's key belongs to; `Unauthenticated` without a valid key."""
        snapshot = self._snapshot
        reloading = self._thread is not None  # without the thread, the owner refreshes
        if reloading and time.monotonic() - snapshot.loaded_at > self.stale_after_s:
            raise StorageError(
                f"the gateway keys could not be reloaded from {self.keys.describe()} for "
                f"{self.stale_after_s:.0f} s; refusing calls rather than honour revoked keys"
            )
        presented = _presented(headers)
        for key in presented:
            caller = snapshot.callers.get(hash_key(key))
            if caller is not None:
                return caller
        if not presented:
            if self.allow_anonymous:
                return Caller(ANONYMOUS, ANONYMOUS, None)
            raise Unauthenticated(
                "no API key: send the gateway key as x-api-key or Authorization: Bearer "
                "(create one with `phaseroute keys create`)"
            )
        raise Unauthenticated(
            "the API key is not valid: it is unknown or revoked — check the key, or create "
            "one with `phaseroute keys create`"
        )

    def authorize(self, caller: Caller, workflow: str) -> None:
        """Raise `Forbidden` unless the caller's key may use `workflow`."""
        if caller.workflows is None or workflow in caller.workflows:
            return
        allowed = ", ".join(sorted(caller.workflows)) or "none"
        raise Forbidden(
            f"key {caller.key_id} ({caller.name!r}) may not use workflow {workflow!r}; "
            f"it may use: {allowed} — use a key issued for {workflow!r}"
        )

    # ------------------------------------------------------------------ budgets

    def set_plan(self, plan: RoutingPlan) -> None:
        """Take the workflow and phase budgets of a reloaded policy (keys are unaffected)."""
        self._policy_lines = self._lines_from_policy(plan)
        self.plan = plan

    @staticmethod
    def _lines_from_policy(
        plan: RoutingPlan,
    ) -> Mapping[tuple[str, str | None], tuple[BudgetLine, ...]]:
        lines: dict[tuple[str, str | None], tuple[BudgetLine, ...]] = {}
        for wf, budget in plan.policy.budgets.items():
            lines[(wf, None)] = _limits(f"workflow:{wf}", budget.daily_usd, budget.monthly_usd)
            for phase, limit in budget.phases.items():
                lines[(wf, phase)] = _limits(
                    f"phase:{wf}/{phase}", limit.daily_usd, limit.monthly_usd
                )
        return MappingProxyType(lines)

    def budget_lines(self, caller: Caller, workflow: str, phase: str) -> tuple[BudgetLine, ...]:
        """Every budget a call of `caller` to `workflow`/`phase` is held against."""
        key = self._snapshot.keys.get(caller.key_id)
        own = _limits(f"key:{caller.key_id}", key.daily_usd, key.monthly_usd) if key else ()
        return (
            *own,
            *self._policy_lines.get((workflow, None), ()),
            *self._policy_lines.get((workflow, phase), ()),
        )

    async def reserve(
        self, caller: Caller, workflow: str, phase: str, estimate_usd: Decimal | None
    ) -> Reservation:
        """Hold `estimate_usd` on the call's budgets; `BudgetExceeded` if one would go over.

        Costs nothing when no budget applies; otherwise one database transaction. With no
        estimate (the phase's model has no price) a call under a budget is refused rather
        than charged nothing: the policy refuses its own budgets over unpriced models, but
        a key's budget is set outside the policy.
        """
        lines = self.budget_lines(caller, workflow, phase)
        if not lines:
            return EMPTY_RESERVATION
        if estimate_usd is None:
            scopes = ", ".join(sorted({line.scope for line in lines}))
            raise Forbidden(
                f"the budgets of {scopes} cannot be enforced for {workflow}/{phase}: its "
                "model has no price, so its calls cannot be costed; the gateway's operator "
                "must give the model a price in the policy (models.NAME.price)"
            )
        return await asyncio.to_thread(self.book.reserve, lines, estimate_usd, self._clock())

    async def settle(self, reservation: Reservation, cost_usd: Decimal | None) -> None:
        """Charge the actual cost (the estimate when `cost_usd` is None) and release the hold."""
        if reservation.empty:
            return
        await asyncio.to_thread(self.book.settle, reservation, cost_usd)


def _sqlite_normal_sync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _limits(scope: str, daily: Decimal | None, monthly: Decimal | None) -> tuple[BudgetLine, ...]:
    lines = []
    if daily is not None:
        lines.append(BudgetLine(scope, Period.day, daily))
    if monthly is not None:
        lines.append(BudgetLine(scope, Period.month, monthly))
    return tuple(lines)
