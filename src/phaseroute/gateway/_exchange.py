"""One routed request through the gateway: read, select, authorise, route, answer.

Non-streamed: the router's answer (recorded, and audit-appended for recorded phases, before
it returns) goes back with the `x-phaseroute-*` headers. A client that disconnects first
cancels the call; the router records it as cancelled.

Streamed: the response starts once the upstream stream has opened (so routing and upstream
failures before the first event are ordinary HTTP errors). Events are relayed as they come,
except those that carry the end of the answer (stop reason, usage, the stop marker): they
are held until the router yields its `StreamEnd`, which it does only after the answer is in
the ledger and, for a recorded phase, durably appended to the audit trail. Anything that
goes wrong after the first byte — a cut or errored upstream, a failed append — ends the
stream with an error event in the client's protocol, never a clean end. Headers carry what
is known before the first byte: phase, policy hash, and the model and tier that opened the
stream; cost and audit sequence are known only at the end and are not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import suppress
from decimal import Decimal
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from phaseroute.errors import (
    AuditWriteFailed,
    BudgetExceeded,
    GatewayRefusal,
    IncompleteResponse,
    PayloadTooLarge,
    ProviderError,
    RequestError,
    RoutingUnavailable,
)
from phaseroute.gateway._apis import ClientApi
from phaseroute.gateway._error_bodies import ErrorReply, reply_for
from phaseroute.gateway._gateway import Gateway, Served
from phaseroute.gateway._select import CASE_HEADER, Target
from phaseroute.gateway._summary import CallSummary
from phaseroute.providers._base import (
    CompletionRequest,
    CompletionResponse,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
)
from phaseroute.providers._native import NativeEvent
from phaseroute.providers._tokens import approximate_tokens
from phaseroute.runtime import AsyncRoutedEventStream, RoutedResponse
from phaseroute.wire._sse import AnthropicSse, OpenAISse, pieces_of

T = TypeVar("T")
log = logging.getLogger("phaseroute.gateway")

JSON = "application/json"
_PROTOCOL_OF = {"anthropic": "anthropic", "openai_compat": "openai"}
SSE = "text/event-stream; charset=utf-8"


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (before reading, if it says)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"request body of {size:,} bytes is over this gateway's limit of {limit:,} bytes — "
        "send less (or raise the gateway's --max-body-mb)"
    )


def _no_constant(name: str) -> Any:
    # Python's parser takes NaN and ±Infinity; JSON (RFC 8259) and the providers do not.
    raise ValueError(f"{name} is not a JSON number; send a finite number")


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except ValueError as e:
        raise RequestError(f"the request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise RequestError(f"the request body must be a JSON object, got {type(body).__name__}")
    return body


def lower_headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


async def until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (`ClientGone`)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(until_disconnect(receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        watcher.cancel()
        raise
    if task in done:
        watcher.cancel()
        return task.result()
    task.cancel()
    # Cancelled (or failed on the way out): the client is gone either way.
    with contextlib.suppress(BaseException):
        await task
    raise ClientGone


class Exchange:
    """The life of one request: settles the budget, observes and releases exactly once."""

    def __init__(self, gateway: Gateway, api: ClientApi, path: str) -> None:
        self.gateway = gateway
        self.api = api
        self.path = path
        self.started = time.perf_counter()
        self.served: Served = gateway.acquire()
        self.target: Target | None = None
        self.caller: Any = None
        self.reservation: Any = None
        self.stream = False
        self.case_id: str | None = None
        self.body: dict[str, Any] = {}
        self.max_tokens: int | None = None
        self.error_type: str | None = None
        self.streamed = False  # the first byte of a stream has gone out
        self._finished = False
        self._span = gateway.telemetry.start(None)

    # ------------------------------------------------------------------ the request

    async def respond(self, request: Request) -> Response:
        try:
            return await self._respond(request)
        except ClientGone:
            self.error_type = "client_disconnected"
            await self.finish(499, "cancelled", None)
            return Response(status_code=499)
        except Exception as e:
            return await self.refuse(e)

    async def _respond(self, request: Request) -> Response:
        gateway, api = self.gateway, self.api
        headers = lower_headers(request)
        raw = await read_body(request, gateway.options.max_body_bytes)
        if gateway.access is not None:
            self.caller = gateway.access.authenticate(headers)
        body = parse_json(raw)
        self.target = target = self.served.selector.select(body.get("model"), headers)
        if gateway.access is not None:
            gateway.access.authorize(self.caller, target.workflow)
        routed_request = api.request(body, headers)
        self.stream = api.wants_stream(body)
        router = self.served.router
        self._check_translatable(routed_request)
        # The estimate reads the whole body; only a call held against a budget needs it.
        if gateway.access is not None and gateway.access.budget_lines(
            self.caller, target.workflow, target.phase
        ):
            estimate = router.estimate_cost(
                target.workflow,
                target.phase,
                approximate_tokens(raw.decode("utf-8", errors="replace")),
                routed_request.max_tokens,
            )
            self.reservation = await gateway.access.reserve(
                self.caller, target.workflow, target.phase, estimate
            )
        self.case_id = case_id = headers.get(CASE_HEADER) or None
        self.max_tokens = routed_request.max_tokens
        key_id = getattr(self.caller, "key_id", None)
        if not gateway.ready:
            await gateway.providers_built()
        if not self.stream:
            routed = await unless_disconnected(
                request.receive,
                router.acomplete_request(
                    target.workflow,
                    target.phase,
                    routed_request,
                    case_id=case_id,
                    caller_key_id=key_id,
                ),
            )
            body_out = api.response_body(routed)
            await self.finish(200, "served", routed)
            return Response(body_out, 200, self._headers(routed), media_type=JSON)
        self.body = body
        events = router.astream_request(
            target.workflow, target.phase, routed_request, case_id=case_id, caller_key_id=key_id
        )
        iterator = aiter(events)
        first = await unless_disconnected(request.receive, anext(iterator))
        return Relay(self, events, iterator, first)

    def _check_translatable(self, request: CompletionRequest) -> None:
        """A phase served by the other protocol gets what translates, or a 400 up front.

        (Fallbacks of the other protocol refuse such a request in turn, so the call moves on
        to a model that can take it — never one that would silently drop part of it.)"""
        native, target = request.native, self.target
        if native is None or native.untranslatable is None or target is None:
            return
        plan = self.served.router.plan
        primary = plan.decision(target.workflow, target.phase).model
        kind = plan.policy.providers[primary.provider].type
        if _PROTOCOL_OF.get(kind) != native.protocol:
            raise RequestError(
                f"{target.name} is served by {primary.name} ({kind}), which cannot take this "
                f"{native.protocol} request as sent: {native.untranslatable}"
            )

    # ------------------------------------------------------------------ answers

    def _base_headers(self) -> dict[str, str]:
        out = {"x-phaseroute-policy-hash": self.served.policy_hash}
        if self.target is not None:
            out["x-phaseroute-phase"] = self.target.name
        return out

    def _headers(self, routed: RoutedResponse) -> dict[str, str]:
        out = self._base_headers()
        out["x-phaseroute-model"] = routed.model
        out["x-phaseroute-tier"] = routed.tier
        if routed.cost is not None:
            out["x-phaseroute-cost-usd"] = format(routed.cost, "f")
        if routed.audit_sequence is not None:
            out["x-phaseroute-audit-seq"] = str(routed.audit_sequence)
        if routed.request_id:
            out["request-id" if self.api.protocol == "anthropic" else "x-request-id"] = (
                routed.request_id
            )
        return out

    def stream_headers(self, model: str | None) -> dict[str, str]:
        out = self._base_headers()
        if model is not None:
            out["x-phaseroute-model"] = model
            choice = self.served.router.plan.models.get(model)
            if choice is not None:
                out["x-phaseroute-tier"] = choice.tier
        out["cache-control"] = "no-cache"
        return out

    async def refuse(self, error: BaseException) -> Response:
        reply = reply_for(error).for_protocol(self.api.protocol)
        self.error_type = error_type(error, reply)
        outcome = "refused" if reply.status < 500 else "failed"
        if reply.status >= 500 or not isinstance(error, RequestError):
            level = logging.WARNING if reply.status >= 500 else logging.INFO
            log.log(level, "request failed: %s", error)
        await self.finish(reply.status, outcome, None)
        headers = {**self._base_headers(), **reply.headers()}
        return Response(reply.body(self.api.protocol), reply.status, headers, media_type=JSON)

    # ------------------------------------------------------------------ bookkeeping

    async def finish(self, status: int, outcome: str, routed: RoutedResponse | None) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            if self.reservation is not None and self.gateway.access is not None:
                await self.gateway.access.settle(self.reservation, self._charge(outcome, routed))
        finally:
            self.gateway.release(self.served)
            self._observe(status, outcome, routed)

    def _charge(self, outcome: str, routed: RoutedResponse | None) -> Decimal | None:
        """What the budgets are charged: the answer's cost (None: unknown, so the estimate);
        nothing for a call no upstream answered; the estimate for one cut off part-way
        (a stream that broke or a client that left: the upstream may have billed it)."""
        if routed is not None:
            return routed.total_cost
        if outcome in ("cancelled", "incomplete") or (outcome == "failed" and self.streamed):
            return None
        return Decimal(0)

    def _observe(self, status: int, outcome: str, routed: RoutedResponse | None) -> None:
        del outcome  # the summary's status and error type say it
        target, served = self.target, self.served
        response = routed.response if routed is not None else None
        usage = routed.usage if routed is not None else None
        provider = None
        if routed is not None:
            config = served.router.plan.policy.providers.get(routed.provider)
            provider = config.type if config is not None else None
        call = CallSummary(
            protocol=self.api.protocol,
            method="POST",
            path=self.path,
            status=status,
            duration_s=time.perf_counter() - self.started,
            upstream_s=routed.latency_s if routed is not None else 0.0,
            key_id=getattr(self.caller, "key_id", None),
            workflow=target.workflow if target else None,
            phase=target.phase if target else None,
            tier=routed.tier if routed else None,
            model=routed.model if routed else None,
            provider=provider,
            model_id=routed.model_id if routed else None,
            model_reported=response.model_reported if response else None,
            stream=self.stream,
            max_tokens=self.max_tokens,
            finish_reason=response.stop_reason if response else None,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cache_read_tokens=usage.cache_read_tokens if usage else 0,
            cache_write_tokens=usage.cache_write_tokens if usage else 0,
            cost_usd=routed.total_cost if routed else None,
            fallbacks=len(routed.fallbacks) if routed else 0,
            degraded=routed.degraded if routed else False,
            policy_hash=served.policy_hash,
            audit_seq=routed.audit_sequence if routed else None,
            case_id=self.case_id,
            error_type=self.error_type,
        )
        self._span.finish(call)
        if self.gateway.metrics is not None:
            self.gateway.metrics.observe(call)
        if self.gateway.access_log is not None:
            self.gateway.access_log.write(call)


def error_type(error: BaseException, reply: ErrorReply) -> str:
    """The summary's error type: what the client was told, or what failed upstream."""
    if isinstance(error, BudgetExceeded):
        return "budget_exceeded"
    if isinstance(error, ClientGone | asyncio.CancelledError):
        return "client_disconnected"
    if isinstance(error, AuditWriteFailed):
        return "audit_error"
    if isinstance(error, IncompleteResponse):
        return "incomplete_response"
    if isinstance(error, RoutingUnavailable | ProviderError) and reply.status >= 500:
        return "upstream_error"
    if isinstance(error, GatewayRefusal | RequestError):
        return reply.error_type
    return reply.error_type


class Relay(Response):
    """The streamed answer: relays events, holds the end until the record commits."""

    def __init__(
        self,
        exchange: Exchange,
        events: AsyncRoutedEventStream,
        iterator: AsyncIterator[StreamEvent],
        first: StreamEvent,
    ) -> None:
        super().__init__(None, 200, exchange.stream_headers(events.model), media_type=SSE)
        # A stream has no length: chunked transfer, not Content-Length.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.exchange = exchange
        self.events = events
        self.iterator = iterator
        self.first = first
        self.writer: AnthropicSse | OpenAISse | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self.exchange.streamed = True
        body = asyncio.ensure_future(self._body(send))
        watcher = asyncio.ensure_future(until_disconnect(receive))
        done, _ = await asyncio.wait({body, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if body in done:
            watcher.cancel()
            body.result()
            return
        body.cancel()  # the client is gone: stop the upstream, record it incomplete
        with suppress(asyncio.CancelledError):
            await body
        await self.exchange.finish(499, "cancelled", None)

    async def _body(self, send: Send) -> None:
        held: list[bytes] = []
        outcome, status, routed = "incomplete", 200, None
        try:
            event: StreamEvent | None = self.first
            while event is not None:
                if isinstance(event, StreamEnd):
                    # The router yields its end only after the ledger and audit commit.
                    routed = self.events.result
                    for data in held or self._closing(event.response):
                        await self._send(send, data)
                    outcome = "served"
                    break
                for data in self._encode(event, held):
                    await self._send(send, data)
                event = await anext(self.iterator, None)
            if routed is None:
                raise IncompleteResponse("the routed stream ended without its end")
        except asyncio.CancelledError:
            await self.events.aclose()
            raise
        except Exception as e:
            reply: ErrorReply = reply_for(e).for_protocol(self.exchange.api.protocol)
            log.warning("stream ended with an error: %s", e)
            self.exchange.error_type = error_type(e, reply)
            status, outcome = reply.status, "failed"
            await self._send(send, self.exchange.api.error_event(reply))
            await self.events.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        await self.exchange.finish(status, outcome, routed)

    def _writer(self) -> AnthropicSse | OpenAISse:
        if self.writer is None:
            model = self.events.model
            choice = self.exchange.served.router.plan.models.get(model or "")
            self.writer = self.exchange.api.encoder(
                choice.model_id if choice else (model or ""), self.exchange.body
            )
        return self.writer

    def _encode(self, event: StreamEvent, held: list[bytes]) -> list[bytes]:
        if isinstance(event, NativeEvent):
            if event.terminal:
                held.append(event.data)
                return []
            return [event.data]
        if isinstance(event, TextDelta | ToolCallDelta | ThinkingDelta):
            out = []
            if self.writer is None:
                out.append(self._writer().head())
            out.append(self._writer().delta(event))
            return [b for b in out if b]
        return []

    def _closing(self, response: CompletionResponse) -> list[bytes]:
        """The end of an answer that came translated, or whole (a validated phase)."""
        if self.writer is None:
            writer = self._writer()
            pieces = [writer.delta(p) for p in pieces_of(response)]
            return [writer.head(), *pieces, writer.tail(response)]
        return [self.writer.tail(response)]

    async def _send(self, send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})
