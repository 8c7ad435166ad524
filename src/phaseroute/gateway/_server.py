"""Running the gateway: uvicorn, one process or several, SIGHUP reload, graceful shutdown.

`serve()` checks the policy before anything listens (a broken policy is a located error,
not a traceback), refuses open mode — no key check — on anything but a loopback address,
and hands the app to uvicorn. SIGTERM/SIGINT stop accepting, drain the requests in flight
(bounded by `drain_timeout_s`), flush the ledger and checkpoint the audit trail; SIGHUP
reloads the policy (one process: swapped in place, hash change logged and audited; several
workers: uvicorn restarts them, and each logs the hash it serves).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from starlette.applications import Starlette

from phaseroute.errors import RequestError
from phaseroute.gateway._app import create_app
from phaseroute.gateway._gateway import Gateway, GatewayOptions
from phaseroute.gateway._seams import AccessControl
from phaseroute.policy import RoutingPlan
from phaseroute.providers import resolve_secret

log = logging.getLogger("phaseroute.gateway")

_ENV_POLICY = "PHASEROUTE_GATEWAY_POLICY"
_ENV_MAX_BODY = "PHASEROUTE_GATEWAY_MAX_BODY_BYTES"
_ENV_DRAIN = "PHASEROUTE_GATEWAY_DRAIN_TIMEOUT_S"


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
    """Every provider key the policy names is there (read, never logged), before listening."""
    for config in plan.policy.providers.values():
        key = getattr(config, "api_key", None)
        if key:
            resolve_secret(key, plan.base_dir)


def build_gateway(
    policy: Path, options: GatewayOptions, access: AccessControl | None = None
) -> Gateway:
    from phaseroute.runtime import Router  # noqa: PLC0415 - the router's imports are heavy

    router = Router.from_policy(policy)
    return Gateway(router, access=access, options=options, policy_path=policy)


def app_from_environment() -> Starlette:
    """The app of one worker process (uvicorn's factory when --workers > 1)."""
    policy = Path(os.environ[_ENV_POLICY])
    options = GatewayOptions(
        max_body_bytes=int(os.environ[_ENV_MAX_BODY]),
        drain_timeout_s=float(os.environ[_ENV_DRAIN]),
    )
    return create_app(build_gateway(policy, options), sighup=True)


def serve(
    policy: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    workers: int = 1,
    options: GatewayOptions | None = None,
    access: AccessControl | None = None,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM/SIGINT (blocking)."""
    import uvicorn  # noqa: PLC0415 - only `serve` needs the server

    from phaseroute.policy import load_plan  # noqa: PLC0415

    options = options or GatewayOptions()
    check_open_mode(host, access)
    plan = load_plan(policy)  # a broken policy fails here, with its located problems
    check_secrets(plan)
    common = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_graceful_shutdown": int(options.drain_timeout_s),
        "access_log": False,  # the gateway writes its own JSON access log, without content
    }
    if workers == 1:
        app = create_app(build_gateway(policy, options, access), sighup=True)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    if access is not None:
        raise RequestError("--workers > 1 builds key checks in each worker; use the keys store")
    os.environ[_ENV_POLICY] = str(policy.resolve())
    os.environ[_ENV_MAX_BODY] = str(options.max_body_bytes)
    os.environ[_ENV_DRAIN] = str(options.drain_timeout_s)
    uvicorn.run(
        "phaseroute.gateway._server:app_from_environment",
        factory=True,
        workers=workers,
        **common,  # type: ignore[arg-type]
    )
