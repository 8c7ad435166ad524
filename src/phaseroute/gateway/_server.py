"""Running the gateway: uvicorn, one process or several, SIGHUP reload, graceful shutdown.

`serve()` checks the policy before anything listens (a broken policy is a located error,
not a traceback), requires API keys (`phaseroute keys create`) on anything but a loopback address,
and hands the app to uvicorn. SIGTERM/SIGINT stop accepting, drain the requests in flight
(bounded by `drain_timeout_s`), flush the ledger and checkpoint the audit trail; SIGHUP
reloads the policy (one process: swapped in place, hash change logged and audited; several
workers: uvicorn restarts them, each logs the hash it serves, and a changed hash is audited
at start).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Literal

from phaseroute.audit import load_signing_key
from phaseroute.errors import RequestError
from phaseroute.gateway._access import AccessControl
from phaseroute.gateway._app import GatewayApp, create_app
from phaseroute.gateway._gateway import Gateway, GatewayOptions
from phaseroute.gateway._logs import AccessLog
from phaseroute.gateway._metrics import GatewayMetrics
from phaseroute.gateway._telemetry import GatewayTelemetry
from phaseroute.policy import RoutingPlan
from phaseroute.providers import resolve_secret

log = logging.getLogger("phaseroute.gateway")

_ENV_POLICY = "PHASEROUTE_GATEWAY_POLICY"
_ENV_MAX_BODY = "PHASEROUTE_GATEWAY_MAX_BODY_BYTES"
_ENV_DRAIN = "PHASEROUTE_GATEWAY_DRAIN_TIMEOUT_S"
_ENV_KEYS = "PHASEROUTE_GATEWAY_REQUIRE_KEYS"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_open_mode(host: str, access: AccessControl | None) -> None:
    """Without key checks the gateway may listen on loopback only."""
    if access is None and not is_loopback(host):
        raise RequestError(
            f"--host {host}: without API keys the gateway serves loopback only (127.0.0.1, "
            "::1) — anyone who can reach it could spend your provider keys. Bind to "
            "127.0.0.1, or enable keys (phaseroute keys create) and start it with them"
        )


def check_secrets(plan: RoutingPlan) -> None:
    """Every provider key and the audit signing key the policy names are there (read, never
    logged), before listening."""
    for config in plan.policy.providers.values():
        key = getattr(config, "api_key", None)
        if key:
            resolve_secret(key, plan.base_dir)
    signing_key = plan.policy.audit.signing_key
    if signing_key is not None and any(d.record for d in plan):
        load_signing_key(signing_key, plan.base_dir)


AuthMode = Literal["auto", "keys", "none"]


def keys_required(host: str, auth: AuthMode) -> bool:
    """`auto`: keys everywhere but on loopback; `none` is refused off loopback."""
    if auth == "none":
        check_open_mode(host, None)
        return False
    return auth == "keys" or not is_loopback(host)


def build_gateway(
    policy: Path, options: GatewayOptions, *, require_keys: bool, access_log: bool = True
) -> Gateway:
    """The router of `policy` with metrics, tracing from the environment, the JSON access
    log, and key checks and budgets on the policy's database when `require_keys`."""
    from phaseroute.runtime import Router  # noqa: PLC0415 - the router's imports are heavy
    from phaseroute.runtime._providers import database_location  # noqa: PLC0415

    # Listening comes first: the providers (the SDKs' imports, seconds) are built in the
    # background once the server is up, and `/readyz` says 200 when they are.
    router = Router.from_policy(policy, build_providers_now=False)
    try:
        access = (
            AccessControl.open(router.plan, database_location(router.plan, None))
            if require_keys
            else None
        )
        return Gateway(
            router,
            access=access,
            metrics=GatewayMetrics(router.plan),
            telemetry=GatewayTelemetry.from_environment(os.environ),
            access_log=AccessLog(enabled=access_log),
            options=options,
            policy_path=policy,
        )
    except BaseException:
        router.close()
        raise


def app_from_environment() -> GatewayApp:
    """The app of one worker process (uvicorn's factory when --workers > 1)."""
    policy = Path(os.environ[_ENV_POLICY])
    options = GatewayOptions(
        max_body_bytes=int(os.environ[_ENV_MAX_BODY]),
        drain_timeout_s=float(os.environ[_ENV_DRAIN]),
    )
    gateway = build_gateway(policy, options, require_keys=os.environ[_ENV_KEYS] == "1")
    return create_app(gateway, sighup=True, freeze_heap=True)


def serve(
    policy: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    workers: int = 1,
    options: GatewayOptions | None = None,
    auth: AuthMode = "auto",
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM/SIGINT (blocking)."""
    import uvicorn  # noqa: PLC0415 - only `serve` needs the server

    from phaseroute.policy import load_plan  # noqa: PLC0415

    options = options or GatewayOptions()
    require_keys = keys_required(host, auth)
    plan = load_plan(policy)  # a broken policy fails here, with its located problems
    check_secrets(plan)
    common = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_graceful_shutdown": int(options.drain_timeout_s),
        "access_log": False,  # the gateway writes its own JSON access log, without content
        # Forwarding headers never change anything here (docs/gateway.md, Security), so
        # uvicorn need not rewrite each request's scope from them.
        "proxy_headers": False,
    }
    log.info(
        "serving %s on %s:%d (%s)",
        policy,
        host,
        port,
        "API keys required" if require_keys else "open mode: no key check, loopback only",
    )
    if workers == 1:
        gateway = build_gateway(policy, options, require_keys=require_keys)
        app = create_app(gateway, sighup=True, freeze_heap=True)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    os.environ[_ENV_POLICY] = str(policy.resolve())
    os.environ[_ENV_MAX_BODY] = str(options.max_body_bytes)
    os.environ[_ENV_DRAIN] = str(options.drain_timeout_s)
    os.environ[_ENV_KEYS] = "1" if require_keys else "0"
    uvicorn.run(
        "phaseroute.gateway._server:app_from_environment",
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
