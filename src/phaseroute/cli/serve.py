"""``phaseroute serve``: the gateway — both wire protocols over the policy's Router."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from phaseroute.errors import RequestError

PolicyArg = Annotated[Path, typer.Argument(help="The policy YAML file.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    policy: PolicyArg,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    max_body_mb: Annotated[
        float, typer.Option(help="Refuse request bodies over this many MiB (413).")
    ] = 32.0,
    drain_timeout: Annotated[
        float, typer.Option(help="Seconds to let requests in flight finish on shutdown.")
    ] = 30.0,
    auth: Annotated[
        str,
        typer.Option(
            help="keys: require an API key (phaseroute keys create); none: open, loopback "
            "only; auto: keys unless the host is loopback."
        ),
    ] = "auto",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve POLICY as an Anthropic Messages and OpenAI Chat Completions endpoint.

    Clients pick the phase with model "WORKFLOW/PHASE", the x-phaseroute-workflow and
    x-phaseroute-phase headers, or a policy alias. SIGHUP reloads the policy.
    """
    from phaseroute.gateway._gateway import GatewayOptions
    from phaseroute.gateway._server import serve as run_server

    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise RequestError(f"--log-level {log_level!r}: use debug, info, warning or error")
    if auth not in ("auto", "keys", "none"):
        raise RequestError(f"--auth {auth!r}: use auto, keys or none")
    if max_body_mb <= 0:
        raise RequestError(f"--max-body-mb {max_body_mb}: must be positive")
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level > logging.DEBUG:  # one line per upstream call from the SDKs' HTTP client
        for name in ("httpx2", "httpx", "httpcore2", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    options = GatewayOptions(
        max_body_bytes=int(max_body_mb * 1024 * 1024), drain_timeout_s=drain_timeout
    )
    run_server(
        policy,
        host=host,
        port=port,
        workers=workers,
        options=options,
        auth=auth,  # type: ignore[arg-type]
        log_level=log_level.lower(),
    )
