"""``GET /ui``: the dashboard page, behind the gateway's keys.

A browser sends the key as HTTP Basic credentials (any user name, the key as password) —
the browser asks for it — or, like every client, as ``x-api-key`` / ``Authorization:
Bearer``. A key scoped to some workflows sees only those. Figures are read on a worker
thread (they come from the database); the audit trail is verified in the background at
most every `verify_every_s` and the page shows the last completed verdict.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from phaseroute.audit import AuditTrail, stats
from phaseroute.errors import Unauthenticated
from phaseroute.gateway._access import AccessControl, Caller
from phaseroute.gateway._budgets import Period
from phaseroute.gateway._dashboard import AuditPanel, BudgetGauge, collect, render
from phaseroute.gateway._gateway import Gateway
from phaseroute.runtime import Router

if TYPE_CHECKING:
    from phaseroute.monitor import ProductionMonitor

_CHALLENGE = {"www-authenticate": 'Basic realm="phaseroute dashboard", charset="UTF-8"'}


def _with_basic_key(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with a Basic-auth password presented as the gateway key."""
    out = dict(headers)
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and "x-api-key" not in out:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return out
        out["x-api-key"] = decoded.partition(":")[2]
        del out["authorization"]
    return out


def production_monitor(router: Router) -> ProductionMonitor | None:
    """The router's production monitor when the policy asked for one. The monitor module
    (and its statistics stack) is imported only then, so start-up does not pay for it."""
    if router.observer is None:
        return None
    from phaseroute.monitor import ProductionMonitor  # noqa: PLC0415

    return router.observer if isinstance(router.observer, ProductionMonitor) else None


def _budgets(access: AccessControl, caller: Caller, router: Router) -> list[BudgetGauge]:
    now = datetime.now(UTC)
    seen: dict[tuple[str, str], BudgetGauge] = {}
    for workflow, phase in router.plan.decisions:
        if caller.workflows is not None and workflow not in caller.workflows:
            continue
        for line in access.budget_lines(caller, workflow, phase):
            key = (line.scope, line.period.value)
            if key in seen:
                continue
            use = access.book.use(line.scope, Period(line.period).key(now))
            kind, _, name = line.scope.partition(":")
            seen[key] = BudgetGauge(
                f"{kind} {name}", line.period.value, line.limit_usd, use.spent_usd
            )
    return list(seen.values())


class Dashboard:
    """The `/ui` endpoint of one gateway."""

    def __init__(self, gateway: Gateway, *, verify_every_s: float = 600.0) -> None:
        self.gateway = gateway
        self.verify_every_s = verify_every_s
        self._verdict: str | None = None
        self._verified_at = float("-inf")
        self._verifying = threading.Lock()

    async def page(self, request: Request) -> Response:
        gateway = self.gateway
        caller: Caller | None = None
        if gateway.access is not None:
            try:
                caller = gateway.access.authenticate(
                    _with_basic_key({k.lower(): v for k, v in request.headers.items()})
                )
            except Unauthenticated as e:
                return HTMLResponse(
                    f"<!doctype html><title>phaseroute</title><p>{e}</p>", 401, _CHALLENGE
                )
        page = await asyncio.to_thread(self._page, gateway.served.router, caller)
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    def _page(self, router: Router, caller: Caller | None) -> str:
        monitor = production_monitor(router)
        access = self.gateway.access
        data = collect(
            router,
            policy=str(self.gateway.policy_path or "policy"),
            monitor=monitor,
            budgets=_budgets(access, caller, router) if access and caller else (),
            audit=self._audit(router),
        )
        if caller is not None and caller.workflows is not None:
            allowed = caller.workflows
            data = replace(
                data,
                phases=[p for p in data.phases if p.workflow in allowed],
                production=[s for s in data.production if s.workflow in allowed],
                series=(),  # spend over time is for the whole gateway
            )
        return render(data)

    def _audit(self, router: Router) -> AuditPanel | None:
        trail = router.audit
        if not isinstance(trail, AuditTrail):
            return None
        if time.monotonic() - self._verified_at > self.verify_every_s:
            threading.Thread(target=self._verify, args=(trail,), daemon=True).start()
        s = stats(trail.store)
        return AuditPanel(
            s.records,
            s.head_seq,
            s.checkpoints,
            s.last_checkpoint_seq,
            s.last_checkpoint_at,
            last_verification=self._verdict,
        )

    def _verify(self, trail: AuditTrail) -> None:
        if not self._verifying.acquire(blocking=False):
            return
        try:
            self._verified_at = time.monotonic()
            report = trail.verify(allow_uncovered=True)
            when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            self._verdict = (
                f"intact: {report.records:,} records checked at {when}"
                if report.ok
                else f"FAILED at {when}: first bad record #{report.first_bad.seq}"
                if report.first_bad
                else f"FAILED at {when}"
            )
        except Exception as e:  # the page reports it; the gateway keeps serving
            self._verdict = f"could not verify: {e}"
        finally:
            self._verifying.release()
