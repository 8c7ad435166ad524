"""A local HTTP server speaking the Anthropic Messages and OpenAI Chat Completions protocols.

Bound to 127.0.0.1 on a free port, served from background threads, programmable per model.
The official SDKs are its clients in tests, so what they parse is what the real APIs send.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from email import policy as email_policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol

from phaseroute.testing.upstream import _anthropic_wire, _openai_wire
from phaseroute.testing.upstream._answer import Answer, dumps, make_answer
from phaseroute.testing.upstream._batches import Batch, BatchStore
from phaseroute.testing.upstream._script import (
    ECHO_KEY,
    ModelBehaviour,
    Outcome,
    OutcomeKind,
    UpstreamRequest,
)

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_STREAM_ONLY = {OutcomeKind.CUT_OFF, OutcomeKind.EARLY_END, OutcomeKind.STREAM_ERROR}


class _Wire(Protocol):
    """One wire protocol; `_anthropic_wire` and `_openai_wire` are the two implementations."""

    REQUEST_ID_HEADER: str
    MESSAGE_ID_PREFIX: str
    PATH: str

    def parse(
        self, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> UpstreamRequest | str: ...
    def api_key(self, headers: Mapping[str, str]) -> str | None: ...
    def complete_body(self, answer: Answer) -> bytes: ...
    def stream_head(self, answer: Answer) -> Iterator[bytes]: ...
    def stream_delta(self, answer: Answer, text: str) -> bytes: ...
    def stream_tail(self, answer: Answer, include_usage: bool) -> Iterator[bytes]: ...
    def stream_error(self, request_id: str, message: str | None = None) -> bytes: ...
    def error(
        self,
        outcome: Outcome,
        model: str,
        request_id: str,
        message: str | None = None,
        key: str = "",
    ) -> tuple[int, dict[str, str], bytes]: ...


_WIRES: dict[str, _Wire] = {_anthropic_wire.PATH: _anthropic_wire, _openai_wire.PATH: _openai_wire}


@dataclass
class _ModelState:
    behaviour: ModelBehaviour
    rng: random.Random
    script: deque[Outcome] = field(default_factory=deque)
    received: list[UpstreamRequest] = field(default_factory=list)


class Upstream:
    """A fake provider endpoint that speaks the real wire protocols; a context manager.

    Anthropic clients use `base_url`; OpenAI clients use `openai_base_url` (…/v1). Each
    requested model follows its `ModelBehaviour` (see `program`); unprogrammed models
    follow `default`. Faults draw from one RNG per model seeded with `seed`. A HANG holds
    the connection until the client gives up, `hang_limit_s` passes or the server closes.
    With `api_key` set, requests carrying another key get the provider's real 401.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        api_key: str | None = None,
        hang_limit_s: float = 30.0,
        default: ModelBehaviour | None = None,
        batch_polls: int = 0,
    ) -> None:
        self._seed = seed
        self._api_key = api_key
        self._hang_limit_s = hang_limit_s
        self._default = default or ModelBehaviour()
        self._lock = threading.Lock()
        self._models: dict[str, _ModelState] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.batches = BatchStore(batch_polls)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Upstream:
        if self._server is not None:
            raise RuntimeError("upstream already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="phaseroute-upstream",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, release hung connections and join every handler thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:8123 (what the Anthropic SDK takes)."""
        if self._server is None:
            raise RuntimeError("upstream is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        """Root URL plus /v1 (what the OpenAI SDK takes)."""
        return self.base_url + "/v1"

    # ------------------------------------------------------------------ programming

    def program(self, model: str, **changes: Any) -> None:
        """Set how `model` answers: any `ModelBehaviour` field, over the default behaviour.

        Replaces the model's earlier programming and restarts its script.
        """
        behaviour = replace(self._default, **changes)
        with self._lock:
            state = self._state(model)
            state.behaviour = behaviour
            state.script = deque(behaviour.script)

    def enqueue(self, model: str, *outcomes: Outcome) -> None:
        """Append outcomes to `model`'s script (served before any random fault)."""
        with self._lock:
            self._state(model).script.extend(outcomes)

    def requests(self, model: str | None = None) -> int:
        """How many requests arrived for `model` (for all models when None)."""
        return len(self.received(model))

    def received(self, model: str | None = None) -> tuple[UpstreamRequest, ...]:
        """The requests that arrived for `model` (all models when None), oldest first."""
        with self._lock:
            if model is not None:
                state = self._models.get(model)
                return tuple(state.received) if state else ()
            return tuple(r for s in self._models.values() for r in s.received)

    def counts(self) -> dict[str, int]:
        """Requests received per model."""
        with self._lock:
            return {m: len(s.received) for m, s in self._models.items() if s.received}

    # ------------------------------------------------------------------ batches

    def _process(self, api: str, custom_id: str, body: Mapping[str, Any]) -> tuple[str, Any]:
        """One batch request through the model's behaviour, as the batch API reports it."""
        wire = _WIRES[_anthropic_wire.PATH if api == "anthropic" else _openai_wire.PATH]
        request_id = "req_" + uuid.uuid4().hex[:24]
        parsed = wire.parse(body, {})
        if isinstance(parsed, str):
            status, _, raw = wire.error(Outcome(OutcomeKind.BAD_REQUEST), "", request_id, parsed)
            return ("errored", (status, json.loads(raw)))
        outcome, behaviour = self._admit(replace(parsed, stream=False), self._api_key)
        kind = outcome.kind
        if kind is OutcomeKind.EXPIRED:
            return ("expired", None)
        if kind in _STREAM_ONLY or kind is OutcomeKind.HANG:
            outcome = replace(outcome, kind=OutcomeKind.SERVER_ERROR)
            kind = outcome.kind
        if kind is not OutcomeKind.OK:
            status, _, raw = wire.error(outcome, parsed.model, request_id)
            return ("errored", (status, json.loads(raw)))
        message_id = wire.MESSAGE_ID_PREFIX + uuid.uuid4().hex[:24]
        answer = make_answer(parsed, behaviour, request_id, message_id)
        return ("succeeded", json.loads(wire.complete_body(answer)))

    def expire_batch(self, batch_id: str) -> None:
        """Expire what is left of a batch (its 24 hours are up)."""
        batch = self.batches.get(batch_id)
        if batch is None:
            raise KeyError(batch_id)
        self.batches.expire(batch_id, lambda c, b: self._process(batch.api, c, b))

    def _batch_route(self, handler: _Handler, method: str, path: str, raw: bytes) -> bool:
        """Serve a batch or file endpoint; False when `path` is none of them."""
        parts = path.strip("/").split("/")
        store = self.batches
        if parts[:3] == ["v1", "messages", "batches"]:
            api = "anthropic"
        elif parts[:2] == ["v1", "batches"] or parts[:2] == ["v1", "files"]:
            api = "openai"
        else:
            return False
        wire = _WIRES[_anthropic_wire.PATH if api == "anthropic" else _openai_wire.PATH]
        rest = parts[3:] if api == "anthropic" else parts[2:]

        def process(custom_id: str, body: Mapping[str, Any]) -> tuple[str, Any]:
            return self._process(api, custom_id, body)

        def bad(message: str, status: int = 400) -> bool:
            outcome = Outcome(OutcomeKind.BAD_REQUEST, status=status)
            handler.send_error_body(wire, outcome, "", "req_batch", message)
            return True

        if parts[:2] == ["v1", "files"]:
            if method == "POST" and not rest:
                content = _multipart_file(handler.headers.get("content-type", ""), raw)
                if content is None:
                    return bad("file: a multipart 'file' field is required")
                file_id = store.add_file(content)
                handler.send_json(200, _file_json(file_id, len(content)))
                return True
            if method == "GET" and len(rest) == 2 and rest[1] == "content":
                data = store.file(rest[0])
                if data is None:
                    return bad(f"No such File object: {rest[0]}", 404)
                handler.send_bytes(200, "application/octet-stream", data)
                return True
            return bad("unknown files endpoint", 404)
        if method == "POST" and not rest:
            try:
                body = json.loads(raw)
            except ValueError:
                return bad("body is not JSON")
            created = (
                store.create_anthropic(body) if api == "anthropic" else store.create_openai(body)
            )
            if isinstance(created, str):
                return bad(created)
            batch: Batch | None = created
        elif method == "POST" and len(rest) == 2 and rest[1] == "cancel":
            batch = store.cancel(rest[0], process)
        elif method == "GET" and len(rest) == 1:
            batch = store.poll(rest[0], process)
        elif method == "GET" and len(rest) == 2 and rest[1] == "results" and api == "anthropic":
            batch = store.get(rest[0])
            if batch is not None and batch.state != "in_progress":
                handler.send_bytes(200, "application/binary", store.anthropic_results(batch))
                return True
            if batch is not None:
                return bad("the batch has not ended yet")
        else:
            return bad("unknown batch endpoint", 404)
        if batch is None:
            return bad(f"no batch {rest[0]!r}", 404)
        if api == "anthropic":
            handler.send_json(200, store.anthropic_json(batch, self.base_url))
        else:
            handler.send_json(200, store.openai_json(batch))
        return True

    # ------------------------------------------------------------------ serving

    def _state(self, model: str) -> _ModelState:
        state = self._models.get(model)
        if state is None:
            state = _ModelState(
                behaviour=self._default,
                rng=random.Random(f"{self._seed}:{model}"),
                script=deque(self._default.script),
            )
            self._models[model] = state
        return state

    def _admit(self, request: UpstreamRequest, key: str | None) -> tuple[Outcome, ModelBehaviour]:
        with self._lock:
            state = self._state(request.model)
            state.received.append(request)
            if self._api_key is not None and key != self._api_key:
                return Outcome(OutcomeKind.UNAUTHORIZED), state.behaviour
            if state.script:
                return state.script.popleft(), state.behaviour
            draw = state.rng.random()
            for outcome, probability in state.behaviour.faults.items():
                if draw < probability:
                    return outcome, state.behaviour
                draw -= probability
            return Outcome(), state.behaviour

    def _handle(self, handler: _Handler, wire: _Wire, body: Mapping[str, Any]) -> None:
        request_id = "req_" + uuid.uuid4().hex[:24]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        parsed = wire.parse(body, headers)
        if not isinstance(parsed, str):
            parsed = replace(parsed, path=handler.path, raw_body=handler.raw_body)
        if isinstance(parsed, str):
            outcome = Outcome(OutcomeKind.BAD_REQUEST)
            handler.send_error_body(wire, outcome, "", request_id, parsed)
            return
        key = wire.api_key(headers)
        outcome, behaviour = self._admit(parsed, key)
        if outcome.message is not None and ECHO_KEY in outcome.message:
            outcome = replace(outcome, message=outcome.message.replace(ECHO_KEY, key or ""))
        kind = outcome.kind
        if kind is OutcomeKind.EXPIRED:  # only a batch request can expire
            outcome = replace(outcome, kind=OutcomeKind.SERVER_ERROR)
            kind = outcome.kind
        if not parsed.stream and kind in _STREAM_ONLY:
            kind = (
                OutcomeKind.OVERLOADED if kind is OutcomeKind.STREAM_ERROR else OutcomeKind.CUT_OFF
            )
            outcome = replace(outcome, kind=kind)
        if kind is OutcomeKind.HANG:
            self._stopping.wait(self._hang_limit_s)
            handler.close_connection = True
            return
        if kind is not OutcomeKind.OK and kind not in _STREAM_ONLY:
            handler.send_error_body(wire, outcome, parsed.model, request_id, key=key or "")
            return
        message_id = wire.MESSAGE_ID_PREFIX + uuid.uuid4().hex[:24]
        answer = make_answer(parsed, behaviour, request_id, message_id)
        if not parsed.stream:
            self._stopping.wait(behaviour.first_token_delay_s)
            handler.send_complete(wire, answer, cut_off=kind is OutcomeKind.CUT_OFF)
            return
        handler.start_stream(wire, answer)
        for part in wire.stream_head(answer):
            handler.write_chunk(part)
        self._stopping.wait(behaviour.first_token_delay_s)
        for n, text in enumerate(answer.deltas(behaviour.chunk_chars)):
            if kind in _STREAM_ONLY and n == outcome.after_deltas:
                break
            if n:
                self._stopping.wait(behaviour.delta_delay_s)
            handler.write_chunk(wire.stream_delta(answer, text))
        if kind is OutcomeKind.CUT_OFF:
            handler.close_connection = True  # no terminating chunk: the body is incomplete
            return
        if kind is OutcomeKind.STREAM_ERROR:
            handler.write_chunk(wire.stream_error(request_id, outcome.message))
        elif kind is OutcomeKind.OK:
            for part in wire.stream_tail(answer, parsed.include_usage):
                handler.write_chunk(part)
        handler.end_chunks()


def _multipart_file(content_type: str, raw: bytes) -> bytes | None:
    """The `file` part of a multipart/form-data body."""
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"content-type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def _file_json(file_id: str, size: int) -> bytes:
    return dumps(
        {
            "id": file_id,
            "object": "file",
            "bytes": size,
            "created_at": int(time.time()),
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
            "status_details": None,
        }
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads
    # Many clients connecting at once (a concurrency benchmark) must queue, not be dropped:
    # the default backlog of 5 makes the kernel drop handshakes, which clients see as
    # resets or one-second SYN retransmits.
    request_queue_size = 256

    def __init__(self, upstream: Upstream) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they can exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, cut streams) are expected; do not print them."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    raw_body: bytes = b""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""

    def do_GET(self) -> None:
        try:
            if not self.server.upstream._batch_route(self, "GET", self.path.split("?", 1)[0], b""):
                self._send(404, {}, b'{"error":{"message":"Not found","type":"not_found_error"}}')
        except _DISCONNECTS:
            self.close_connection = True

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            self.raw_body = raw
            path = self.path.split("?", 1)[0]
            if self.server.upstream._batch_route(self, "POST", path, raw):
                return
            wire = _WIRES.get(path)
            if wire is None:
                self._send(404, {}, b'{"error":{"message":"Not found","type":"not_found_error"}}')
                return
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                outcome = Outcome(OutcomeKind.BAD_REQUEST)
                self.send_error_body(wire, outcome, "", "req_invalid", "body is not a JSON object")
                return
            self.server.upstream._handle(self, wire, body)
        except _DISCONNECTS:
            self.close_connection = True

    # ------------------------------------------------------------------ writing

    def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, body: bytes) -> None:
        self._send(status, {}, body)

    def send_bytes(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_error_body(
        self,
        wire: _Wire,
        outcome: Outcome,
        model: str,
        request_id: str,
        message: str | None = None,
        key: str = "",
    ) -> None:
        status, headers, body = wire.error(outcome, model, request_id, message, key)
        self._send(status, {wire.REQUEST_ID_HEADER: request_id, **headers}, body)

    def send_complete(self, wire: _Wire, answer: Answer, *, cut_off: bool) -> None:
        body = wire.complete_body(answer)
        if not cut_off:
            self._send(200, {wire.REQUEST_ID_HEADER: answer.request_id}, body)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header(wire.REQUEST_ID_HEADER, answer.request_id)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def start_stream(self, wire: _Wire, answer: Answer) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header(wire.REQUEST_ID_HEADER, answer.request_id)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
