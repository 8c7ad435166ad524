"""The gateway's state: the router it serves, reloads, draining and shutdown.

One `Gateway` holds what one policy load serves (`Served`: the router and the phase
selector). A reload builds a new router from the policy file and swaps it in atomically:
requests in flight finish on the router they started with, which is closed once they have.
The change of policy hash is logged and, where the new policy keeps an audit trail,
recorded in it. Shutdown stops taking requests (`/readyz` turns 503), waits for those in
flight, then flushes the ledger and closes (checkpointing) the audit trail.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from phaseroute.audit import AuditTrail, policy_event
from phaseroute.gateway._access import AccessControl
from phaseroute.gateway._logs import AccessLog
from phaseroute.gateway._metrics import GatewayMetrics
from phaseroute.gateway._select import PhaseSelector
from phaseroute.gateway._telemetry import GatewayTelemetry
from phaseroute.runtime import Router

log = logging.getLogger("phaseroute.gateway")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # the Messages API's own request limit


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Limits and behaviour that are not in the policy."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    drain_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")


@dataclass(eq=False)
class Served:
    """What one policy load serves; requests hold it for their whole life."""

    router: Router
    selector: PhaseSelector
    in_flight: int = 0
    retired: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def policy_hash(self) -> str:
        return self.router.plan.policy_hash

    def describe(self) -> dict[str, str]:
        """Each listed model name and what it routes to, for `/v1/models`."""
        out = {}
        for d in self.router.plan:
            out[f"{d.workflow}/{d.phase}"] = (
                f"{d.workflow}/{d.phase} → {d.model.name} ({d.tier}, {d.basis.value})"
            )
        for pattern, target in self.selector.aliases:
            out[pattern] = f"alias of {target}"
        return out


def route_lines(router: Router) -> list[str]:
    """One log line per phase: where the plan sends it and why."""
    return [
        f"route {d.workflow}/{d.phase} -> {d.model.name} [{d.model.model_id}] tier={d.tier} "
        f"basis={d.basis.value} rule={d.rule}"
        for d in router.plan
    ]


class Gateway:
    """A router served over HTTP, with its optional keys/budgets, metrics, tracing and
    access log. `access=None` is open mode (no key check), for loopback only."""

    def __init__(
        self,
        router: Router,
        *,
        access: AccessControl | None = None,
        metrics: GatewayMetrics | None = None,
        telemetry: GatewayTelemetry | None = None,
        access_log: AccessLog | None = None,
        options: GatewayOptions | None = None,
        policy_path: str | Path | None = None,
        router_factory: Callable[[Path], Router] | None = None,
    ) -> None:
        self.access = access
        self.metrics = metrics
        self.telemetry = telemetry or GatewayTelemetry()
        self.access_log = access_log
        self.options = options or GatewayOptions()
        self.policy_path = Path(policy_path) if policy_path is not None else None
        self._router_factory = router_factory or (Router.from_policy)
        self._served = Served(router, PhaseSelector(router.plan))
        self.draining = False
        self._warm = False
        self._warming: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def served(self) -> Served:
        return self._served

    def acquire(self) -> Served:
        served = self._served
        served.in_flight += 1
        served.idle.clear()
        return served

    def release(self, served: Served) -> None:
        served.in_flight -= 1
        if served.in_flight == 0:
            served.idle.set()
            if served.retired:
                task = asyncio.get_running_loop().create_task(self._close_retired(served))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    @property
    def ready(self) -> bool:
        """Serving, and every provider built (SDKs imported): `/readyz` says 200."""
        return self._warm and not self.draining

    def start_warming(self) -> asyncio.Task[None]:
        """`warm()` in the background: the server listens meanwhile (`/readyz` 503)."""
        self._warming = asyncio.get_running_loop().create_task(self.warm())
        return self._warming

    async def providers_built(self) -> None:
        """Wait, if the providers are still being built: a call that arrives before
        `/readyz` says 200 starts its clock only once they are (never against an SDK's
        import)."""
        warming = self._warming
        if warming is not None and not warming.done():
            await asyncio.shield(warming)

    async def warm(self) -> None:
        """Build the policy's providers off the event loop (their SDK imports take seconds),
        so the first request does not pay for them; `/readyz` is 503 until done."""
        router = self._served.router
        try:
            for provider in router.providers.values():
                warm = getattr(provider, "warm", None)
                if warm is not None:
                    await asyncio.to_thread(warm)
        except Exception as e:  # a provider that cannot be built fails its calls, loudly
            log.error("building a provider failed: %s", e)
        await asyncio.to_thread(self._audit_start, router)
        self._warm = True
        log.info("ready: providers built")

    def log_start(self) -> None:
        router = self._served.router
        log.info("policy hash %s", router.plan.policy_hash)
        for line in route_lines(router):
            log.info("%s", line)
        for pattern, target in self._served.selector.aliases:
            log.info("alias %s -> %s", pattern, target)

    async def reload(self) -> tuple[str, str]:
        """Rebuild the router from the policy file and swap it in; (old hash, new hash).

        A policy that no longer loads leaves the running one in place (the error is raised).
        """
        if self.policy_path is None:
            raise RuntimeError("this gateway was not started from a policy file")
        async with self._reload_lock:
            router = await asyncio.to_thread(self._router_factory, self.policy_path)
            old = self._served
            new = Served(router, PhaseSelector(router.plan))
            self._served = new
            if self.metrics is not None:
                self.metrics.set_plan(router.plan)
            if self.access is not None:
                self.access.set_plan(router.plan)
            old.retired = True
            if old.in_flight == 0:
                await self._close_retired(old)
            old_hash, new_hash = old.policy_hash, new.policy_hash
            log.info("policy reloaded: hash %s -> %s", old_hash, new_hash)
            for line in route_lines(router):
                log.info("%s", line)
            await asyncio.to_thread(self._audit_policy_change, router, old_hash, new_hash)
            return old_hash, new_hash

    def _audit_policy_change(
        self, router: Router, old_hash: str, new_hash: str, *, at_start: bool = False
    ) -> None:
        """Record the policy change in the audit trail, where the policy keeps one."""
        if router.audit is None:
            return
        kind = "policy change at start" if at_start else "policy reload"
        router.audit.append(
            policy_event(
                workflow="(gateway)",
                phase=f"({kind})",
                model_requested="(none)",
                provider="(gateway)",
                tier="(none)",
                rule=kind,
                basis="start" if at_start else "reload",
                reasons=(f"policy hash {old_hash} -> {new_hash}",),
                policy_hash=new_hash,
                event={
                    "event": "policy_change_at_start" if at_start else "policy_reload",
                    "old_policy_hash": old_hash,
                },
                at=datetime.now(tz=UTC),
            )
        )

    def _audit_start(self, router: Router) -> None:
        """A policy that changed while no gateway served it — edited between two runs, or
        every worker restarted by SIGHUP under ``--workers N`` — is recorded as a change at
        start: the trail's newest record names the hash it was written under."""
        audit = router.audit
        if not isinstance(audit, AuditTrail):
            return
        try:
            with audit.store.snapshot() as snap:
                last = snap.head().last_seq
                stored = snap.record(last) if last > 0 else None
            old = json.loads(stored.body).get("policy_hash") if stored is not None else None
            new = router.plan.policy_hash
            if isinstance(old, str) and old != new:
                self._audit_policy_change(router, old, new, at_start=True)
                log.info("policy changed since the trail's last record: hash %s -> %s", old, new)
        except Exception as e:  # a trail that cannot be read fails the calls that need it
            log.error("recording the policy at start failed: %s", e)

    async def _close_retired(self, served: Served) -> None:
        try:
            await served.router.aclose()
        except Exception as e:  # a retired router failing to close must not stop serving
            log.warning("closing the previous policy's router failed: %s", e)

    async def shutdown(self) -> None:
        """Stop taking requests, wait (bounded) for those in flight, flush and close."""
        self.draining = True
        served = self._served
        if served.in_flight:
            try:
                await asyncio.wait_for(served.idle.wait(), self.options.drain_timeout_s)
            except TimeoutError:
                log.warning(
                    "shutdown: %d request(s) still in flight after %.0fs; closing anyway",
                    served.in_flight,
                    self.options.drain_timeout_s,
                )
        try:
            await served.router.aclose()
        finally:
            self.telemetry.shutdown()
            if self.access is not None:
                await asyncio.to_thread(self.access.close)
            if self.access_log is not None:
                self.access_log.close()
        log.info("gateway stopped: ledger flushed, audit trail closed")
