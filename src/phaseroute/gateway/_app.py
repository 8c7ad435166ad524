"""The ASGI application: the gateway's endpoints, matched on the path only.

Anthropic Messages: `POST /v1/messages` (JSON and SSE), `POST /v1/messages/count_tokens`,
`GET /v1/models`, `HEAD /`. OpenAI Chat Completions: `POST /v1/chat/completions`,
`GET /v1/models`. Operations: `/healthz`, `/readyz`, `/metrics` (when metrics are on),
`/ui` (the read-only dashboard, behind the keys).
Query strings are ignored (`/v1/messages?beta=true` is `/v1/messages`).
"""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from phaseroute.gateway._apis import ANTHROPIC, OPENAI, dumps, listing_protocol
from phaseroute.gateway._error_bodies import ErrorReply
from phaseroute.gateway._exchange import (
    JSON,
    Exchange,
    lower_headers,
    parse_json,
    read_body,
)
from phaseroute.gateway._gateway import Gateway
from phaseroute.gateway._reload import install_sighup
from phaseroute.gateway._ui import Dashboard, production_monitor
from phaseroute.providers._tokens import approximate_tokens


class GatewayApp:
    """The gateway's ASGI app: the two completion endpoints straight to their handlers,
    everything else (operations, listings, errors, the lifespan) through Starlette.

    A completion call is the hot path: Starlette's middleware and router layers cost more
    per call there than the gateway's own bookkeeping, and its handler already answers every
    failure in the client's protocol, so those layers add nothing to it.
    """

    def __init__(self, app: Starlette, hot: dict[str, Callable[[Request], Awaitable[Response]]]):
        self.app = app
        self.hot = hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.hot.get(scope["path"])
            if handler is not None:
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(gateway: Gateway, *, sighup: bool = False, freeze_heap: bool = False) -> GatewayApp:
    """The gateway's ASGI app; its lifespan logs the routes and shuts the gateway down.

    `sighup=True` reloads the policy on SIGHUP (when the server runs in the main thread).
    `freeze_heap=True` (a process of its own: `phaseroute serve`) moves everything alive once
    the providers are built — the SDKs' hundreds of thousands of objects — out of the
    garbage collector's reach: a full collection over them pauses every call in flight for
    tens to hundreds of milliseconds, a p99 spike every few seconds under load.
    """

    async def messages(request: Request) -> Response:
        return await _draining(gateway, request) or await Exchange(
            gateway, ANTHROPIC, "/v1/messages"
        ).respond(request)

    async def chat_completions(request: Request) -> Response:
        return await _draining(gateway, request) or await Exchange(
            gateway, OPENAI, "/v1/chat/completions"
        ).respond(request)

    async def count_tokens(request: Request) -> Response:
        exchange = Exchange(gateway, ANTHROPIC, "/v1/messages/count_tokens")
        try:
            headers = lower_headers(request)
            raw = await read_body(request, gateway.options.max_body_bytes)
            if gateway.access is not None:
                exchange.caller = gateway.access.authenticate(headers)
            body = parse_json(raw)
            exchange.target = target = exchange.served.selector.select(body.get("model"), headers)
            if gateway.access is not None:
                gateway.access.authorize(exchange.caller, target.workflow)
            counted = {k: body[k] for k in ("system", "messages", "tools") if k in body}
            tokens = approximate_tokens(json.dumps(counted, ensure_ascii=False))
        except Exception as e:
            return await exchange.refuse(e)
        await exchange.finish(200, "served", None)
        return Response(dumps({"input_tokens": tokens}), 200, media_type=JSON)

    async def models(request: Request) -> Response:
        api = listing_protocol(lower_headers(request))
        served = gateway.served
        if gateway.access is not None:
            try:
                gateway.access.authenticate(lower_headers(request))
            except Exception as e:
                exchange = Exchange(gateway, api, "/v1/models")
                return await exchange.refuse(e)
        names = served.selector.names
        return Response(api.models_body(names, served.describe()), 200, media_type=JSON)

    async def root(request: Request) -> Response:
        if request.method == "HEAD":
            return Response(status_code=200)
        return Response(dumps({"service": "phaseroute gateway"}), 200, media_type=JSON)

    async def healthz(request: Request) -> Response:
        return Response(dumps({"status": "ok"}), 200, media_type=JSON)

    async def readyz(request: Request) -> Response:
        if not gateway.ready:
            status = "draining" if gateway.draining else "starting"
            return Response(dumps({"status": status}), 503, media_type=JSON)
        served = gateway.served
        body = {"status": "ready", "policy_hash": served.policy_hash}
        return Response(dumps(body), 200, media_type=JSON)

    async def metrics(request: Request) -> Response:
        if gateway.metrics is None:
            return _not_found(request)
        monitor = production_monitor(gateway.served.router)
        if monitor is not None:
            gateway.metrics.observe_drift(monitor.status())
        content, content_type = gateway.metrics.render()
        return Response(content, 200, media_type=content_type)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return _not_found(request)
        reply = ErrorReply(status, "invalid_request_error", f"{request.method} not allowed here")
        api = ANTHROPIC if request.url.path.startswith("/v1/messages") else OPENAI
        return Response(reply.body(api.protocol), status, media_type=JSON)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.log_start()
        warming = gateway.start_warming()
        if freeze_heap:
            warming.add_done_callback(lambda _: gc.freeze())
        uninstall = install_sighup(gateway) if sighup else None
        try:
            yield
        finally:
            if uninstall is not None:
                uninstall()
            await warming
            await gateway.shutdown()

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/ui", Dashboard(gateway).page, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: on_http_error},
    )
    return GatewayApp(app, {"/v1/messages": messages, "/v1/chat/completions": chat_completions})


async def _draining(gateway: Gateway, request: Request) -> Response | None:
    """A gateway that is shutting down takes no new calls (clients retry elsewhere)."""
    if not gateway.draining:
        return None
    api = ANTHROPIC if request.url.path.startswith("/v1/messages") else OPENAI
    reply = ErrorReply(503, "overloaded_error", "the gateway is shutting down", 1.0)
    return Response(reply.body(api.protocol), 503, reply.headers(), media_type=JSON)


def _not_found(request: Request) -> Response:
    api = ANTHROPIC if request.url.path.startswith("/v1/messages") else OPENAI
    reply = ErrorReply(404, "not_found_error", f"no such endpoint: {request.url.path}")
    return Response(reply.body(api.protocol), 404, media_type=JSON)
