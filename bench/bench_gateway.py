"""The latency the gateway adds over calling a fast upstream directly, against LiteLLM's proxy.

Open-loop load: request i is sent at t0 + i/rate whether or not earlier ones have
finished, and its latency is measured from that scheduled instant (so a stalled server
shows up as queueing, not as fewer requests: no coordinated omission). Per rate and mode
(JSON and SSE streaming) the same load goes, interleaved, to

* ``direct``   the upstream itself (the baseline of this run),
* ``gateway``  ``phaseroute serve`` routing a phase without an audit record,
* ``audited``  the same gateway routing an ``audit: true`` phase (record committed before
  the answer is released),
* ``bare``     a bare Python proxy: uvicorn (httptools, uvloop) with a plain ASGI function
  that relays the body to the upstream through one aiohttp session and the answer back —
  no routing, no SDK, no accounting: what any Python gateway on this machine pays at least,
* ``litellm``  the LiteLLM proxy (``litellm[proxy]``) forwarding to the same upstream,

all speaking OpenAI Chat Completions. "Added" is the gateway's percentile minus the
direct percentile of the same rate and mode. Each server runs in its own process; the
upstream is a minimal asyncio HTTP/1.1 server answering at once. Before each run every
server is left to go idle (a saturated one works through its backlog first, on its own
time), and each run reports the CPU time the target spent per request, backlog included,
and the load generator's own: on a shared machine, CPU per request is the figure that
load disturbs least, and it bounds the rate a process can serve (1 / CPU per request).
The ``direct`` target's achieved rate shows whether the load generator and the upstream
kept up.

LiteLLM is never a project dependency: give the ``litellm`` executable of its own
environment, e.g.::

    python -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
    python bench/bench_gateway.py --litellm /tmp/litellm-venv/bin/litellm \
        --rates 10,100,500,1000 --seconds 5 --profile

    python bench/bench_gateway.py [--rates 100,500] [--modes json] [--workers 2] [--body-kb 100]
    python bench/bench_gateway.py --components [--postgres postgresql://...]

``--body-kb N`` pads every request with about N kB of earlier conversation, as a coding
agent's requests carry (the default is one short question). ``--stream-deltas N`` makes
every streamed answer N text deltas long (default 2), written by the upstream at once.
``--profile`` runs the gateway under cProfile for one extra 500 req/s JSON run and prints
where its time goes, by package. ``--components`` times the operations components on the
request path and the CPU per upstream call of the SDK layer (by transport, against a bare
aiohttp session).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PHASEROUTE = str(Path(sys.executable).parent / "phaseroute")  # the console script
UPSTREAM_KEY = "sk-bench-upstream"
JSON = "application/json"
TIMEOUT_S = 30.0  # a request unanswered by then counts as an error
LITELLM_KEY = "sk-" + "0123456789abcdef" * 4  # the proxy's master key: it authenticates too

# ----------------------------------------------------------------------------- the upstream

_COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The answer is 42."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
}


def _chunk(delta: dict[str, object], finish: str | None = None, usage: bool = False) -> bytes:
    body: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "gpt-bench",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = _COMPLETION["usage"]
    data = b"data: " + json.dumps(body).encode() + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_JSON_BODY = json.dumps(_COMPLETION).encode()
_JSON_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
    + f"content-length: {len(_JSON_BODY)}\r\n\r\n".encode()
    + _JSON_BODY
)
_DONE = b"data: [DONE]\n\n"


def _sse_response(deltas: int) -> bytes:
    """A streamed answer of `deltas` text deltas, written at once (as one read, or a few)."""
    words = ["The answer ", "is 42."] if deltas == 2 else [f"word{i} " for i in range(deltas)]
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: req_bench\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
        + _chunk({"role": "assistant", "content": ""})
        + b"".join(_chunk({"content": word}) for word in words)
        + _chunk({}, finish="stop")
        + _chunk({}, usage=True)
        + f"{len(_DONE):x}\r\n".encode()
        + _DONE
        + b"\r\n0\r\n\r\n"
    )


_SSE_RESPONSE = _sse_response(2)
_MODELS_BODY = b'{"object":"list","data":[{"id":"gpt-bench","object":"model"}]}'
_MODELS_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(_MODELS_BODY)}\r\n\r\n".encode()
    + _MODELS_BODY
)


class _UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies; answers each request at once."""

    def __init__(self, sse: bytes = _SSE_RESPONSE) -> None:
        self.sse = sse
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            if head.startswith("GET"):
                self.transport.write(_MODELS_RESPONSE)
            elif b'"stream": true' in body or b'"stream":true' in body:
                self.transport.write(self.sse)
            else:
                self.transport.write(_JSON_RESPONSE)


def run_bare_proxy(port: int, upstream: str) -> None:
    """The ``bare`` target: relay every request to `upstream` and its answer back, streamed
    chunk by chunk, with nothing else on the path."""
    import aiohttp
    import uvicorn

    session: aiohttp.ClientSession | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with session.request(
            scope["method"],
            upstream + scope["path"],
            data=b"".join(chunks),
            headers={"content-type": JSON},
        ) as r:
            kind = r.headers.get("content-type", JSON).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": r.status,
                    "headers": [(b"content-type", kind)],
                }
            )
            async for chunk in r.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
    )


def run_upstream(port: int, deltas: int = 2) -> None:
    sse = _sse_response(deltas)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _UpstreamProtocol(sse), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ----------------------------------------------------------------------------- load


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer


class Client:
    """A minimal keep-alive HTTP/1.1 client with a connection pool (no third-party code in
    the measuring loop, identical for every target)."""

    def __init__(self, port: int, max_connections: int = 256) -> None:
        self.port = port
        self.idle: list[_Conn] = []
        # requests beyond this wait for a connection; their latency still counts from the
        # scheduled instant, so the wait is measured, not hidden
        self.slots = asyncio.Semaphore(max_connections)

    async def _conn(self) -> _Conn:
        if self.idle:
            return self.idle.pop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**20)
        return _Conn(reader, writer)

    async def post(self, path: str, body: bytes, headers: str) -> float:
        """Send one request; return the instant its last byte arrived. A kept-alive
        connection the server has closed meanwhile is replaced once, as any client does."""
        async with self.slots:
            reused = bool(self.idle)
            conn = await self._conn()
            try:
                return await self._post(conn, path, body, headers)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
                conn.writer.close()
                if not reused:
                    raise
                conn = _Conn(*await asyncio.open_connection("127.0.0.1", self.port, limit=2**20))
                return await self._post(conn, path, body, headers)
            except BaseException:
                conn.writer.close()  # a timed-out or failed exchange never goes back to the pool
                raise

    async def _post(self, conn: _Conn, path: str, body: bytes, headers: str) -> float:
        request = (
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n{headers}"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        conn.writer.write(request)
        head = await conn.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        lowered = head.lower()
        if b"content-length:" in lowered:
            length = int(lowered.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            payload = await conn.reader.readexactly(length)
        else:  # chunked
            parts = []
            while True:
                size = int((await conn.reader.readuntil(b"\r\n")).strip(), 16)
                parts.append(await conn.reader.readexactly(size + 2))
                if size == 0:
                    break
            payload = b"".join(parts)
        done = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {payload[:300]!r}")
        if b"connection: close" in lowered:
            conn.writer.close()
        else:
            self.idle.append(conn)
        return done

    def close(self) -> None:
        for conn in self.idle:
            conn.writer.close()
        self.idle.clear()


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    model: str
    headers: str = ""
    pid: int | None = None  # the serving process: its CPU time per request is reported
    body_kb: int = 0  # pad the request to about this many kB of conversation (0: one question)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of `pid` and every process below it (uvicorn's workers), from
    /proc (Linux; NaN elsewhere): the cost per request that the latency figures come from."""
    proc = Path("/proc")
    if pid is None or not proc.is_dir():
        return float("nan")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, wanted = 0.0, {pid}
    changed = True
    while changed:  # the process tree under pid
        changed = False
        for child, (parent, _) in stats.items():
            if parent in wanted and child not in wanted:
                wanted.add(child)
                changed = True
    for one in wanted:
        total += stats.get(one, (0, 0.0))[1]
    return total


@dataclass(frozen=True)
class Run:
    target: str
    rate: int
    stream: bool
    sent: int
    errors: int
    achieved: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # the target's CPU time per request sent, its backlog included
    client_cpu_ms: float  # the load generator's own CPU time per request sent


def _body(model: str, stream: bool, kb: int = 0) -> bytes:
    """One question, or with `kb` a long session's history of about `kb` kB before it (a
    coding agent's requests carry their whole conversation)."""
    turn = "def area(r):\n    return 3.14159 * r * r  # a line of code from earlier\n" * 20
    history: list[dict[str, str]] = []
    while sum(len(m["content"]) for m in history) < kb * 1000:
        history.append({"role": "user" if len(history) % 2 == 0 else "assistant", "content": turn})
    if len(history) % 2:
        history.append({"role": "assistant", "content": "Done."})
    body: dict[str, object] = {
        "model": model,
        "max_tokens": 64,
        "messages": [*history, {"role": "user", "content": "What is six times seven?"}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


async def _load(target: Target, rate: int, seconds: float, stream: bool) -> Run:
    client = Client(target.port)
    body = _body(target.model, stream, target.body_kb)
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: list[str] = []
    tasks = []

    async def one(scheduled: float) -> None:
        try:
            done = await asyncio.wait_for(
                client.post("/v1/chat/completions", body, target.headers), TIMEOUT_S
            )
            latencies.append(done - scheduled)
        except Exception as e:  # counted and shown, never hidden
            errors.append(f"{type(e).__name__}: {e}")

    client_before = time.process_time()
    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - client_before
    client.close()
    if errors:
        print(f"    {target.name}: {len(errors)} errors, first: {errors[0]}", file=sys.stderr)
    ms = sorted(x * 1000 for x in latencies) or [float("nan")]
    return Run(
        target.name,
        rate,
        stream,
        total,
        len(errors),
        len(latencies) / elapsed,
        statistics.median(ms),
        ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        float("nan"),  # the caller measures the server's CPU, backlog included
        client_cpu / total * 1000,
    )


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}; see {log}")
        with suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
            if r.status < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s; see {log}")


@contextmanager
def process(
    argv: list[str], ready_url: str, log: Path, env: dict[str, str], timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(ready_url, proc, timeout, log)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


BENCH_POLICY = """\
version: 1
tiers: [cheap, top]
providers:
  up: {{type: openai_compat, api_key: env:BENCH_UPSTREAM_KEY, base_url: "{base}/v1"}}
models:
  small:
    provider: up
    id: gpt-bench
    tier: cheap
    price: {{input_per_mtok: 1, output_per_mtok: 4}}
  large:
    provider: up
    id: gpt-bench-large
    tier: top
    price: {{input_per_mtok: 5, output_per_mtok: 25}}
controls:
  review: {{description: a person reads the results}}
workflows:
  bench:
    phases:
      fast: {{kind: screening, catastrophic_error: throughput, caught_by: review}}
      audited: {{kind: judgment, catastrophic_error: missed_risk, audit: true}}
database: "{db}"
audit: {{signing_key: "file:keys/audit.key"}}
"""

LITELLM_CONFIG = """\
model_list:
  - model_name: gpt-bench
    litellm_params:
      model: openai/gpt-bench
      api_base: "{base}/v1"
      api_key: {key}
litellm_settings:
  telemetry: false
  drop_params: true
  turn_off_message_logging: true
general_settings:
  master_key: {master_key}
  disable_spend_logs: true
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="10,100,500,1000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--litellm", default=shutil.which("litellm"), help="litellm executable")
    parser.add_argument("--profile", action="store_true", help="profile the gateway at 500/s")
    parser.add_argument("--modes", default="json,stream")
    parser.add_argument(
        "--components", action="store_true", help="only time keys/budgets/metrics/logs/spans"
    )
    parser.add_argument("--postgres", help="postgresql:// URL for the budget timing")
    parser.add_argument(
        "--workers", type=int, default=1, help="gateway worker processes (phaseroute serve)"
    )
    parser.add_argument(
        "--body-kb", type=int, default=0, help="pad each request with ~N kB of conversation"
    )
    parser.add_argument(
        "--stream-deltas", type=int, default=2, help="text deltas in each streamed answer"
    )
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    modes = [m == "stream" for m in args.modes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="phaseroute-bench-gateway-"))
    if args.components:
        _components(work, args.postgres)
        _sdk_costs(work, args.body_kb)
        shutil.rmtree(work, ignore_errors=True)
        return
    env = {**os.environ, "BENCH_UPSTREAM_KEY": UPSTREAM_KEY, "LITELLM_LOG": "ERROR"}

    up_port = free_port()
    base = f"http://127.0.0.1:{up_port}"
    upstream_argv = [
        sys.executable, __file__, "--upstream", str(up_port), str(args.stream_deltas)
    ]  # fmt: skip
    policy = work / "phaseroute.yaml"
    policy.write_text(BENCH_POLICY.format(base=base, db=(work / "bench.db").as_posix()))
    from phaseroute.audit import generate_key_pair

    generate_key_pair(work / "keys")  # the audited phase's checkpoints are signed
    bare_port = free_port()
    bare_argv = [sys.executable, __file__, "--bare-proxy", str(bare_port), base]
    gw_port = free_port()
    gateway_argv = [
        PHASEROUTE, "serve", str(policy), "--auth", "keys",
        "--port", str(gw_port), "--log-level", "warning", "--workers", str(args.workers),
    ]  # fmt: skip
    key = _create_key(policy, env)
    auth = f"authorization: Bearer {key}\r\n"

    print(f"start: {_load_average()}; {os.cpu_count()} CPUs", file=sys.stderr)
    results: list[Run] = []
    with (
        process(upstream_argv, f"{base}/v1/models", work / "upstream.log", env) as upstream,
        process(
            bare_argv, f"http://127.0.0.1:{bare_port}/v1/models", work / "bare.log", env
        ) as bare,
        # ready = providers built (the SDKs imported), not merely listening
        process(gateway_argv, f"http://127.0.0.1:{gw_port}/readyz", work / "gw.log", env) as gw,
        _litellm(args.litellm, base, work, env) as litellm,
    ):
        targets = [
            Target("direct", up_port, "gpt-bench", pid=upstream.pid),
            Target("bare", bare_port, "gpt-bench", pid=bare.pid),
            Target("gateway", gw_port, "bench/fast", auth, gw.pid),
            Target("audited", gw_port, "bench/audited", auth, gw.pid),
        ]
        targets = [replace(t, body_kb=args.body_kb) for t in targets]
        if litellm is not None:
            lite_auth = f"authorization: Bearer {LITELLM_KEY}\r\n"
            targets.append(
                Target("litellm", litellm[0], "gpt-bench", lite_auth, litellm[1], args.body_kb)
            )
        else:
            print("LiteLLM: not run (no --litellm executable)", file=sys.stderr)
        pids = [t.pid for t in targets]
        for t in targets:  # warm up every path (imports, connections, first rows)
            run_loop(_load(t, 50, 1.0, False))
            run_loop(_load(t, 50, 1.0, True))
        for rate in rates:
            for stream in modes:
                for t in targets:  # interleaved: drift hits every target alike
                    settle(pids)
                    cpu_before = cpu_seconds(t.pid)
                    run = run_loop(_load(t, rate, args.seconds, stream))
                    settle(pids)  # the CPU of a backlog counts too
                    cpu_ms = (cpu_seconds(t.pid) - cpu_before) / run.sent * 1000
                    run = replace(run, cpu_ms=cpu_ms)
                    results.append(run)
                    print(
                        f"  {t.name:8} {rate:5}/s {'sse ' if stream else 'json'} "
                        f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:8.2f} ms  "
                        f"achieved {run.achieved:6.0f}/s  errors {run.errors}  "
                        f"server CPU {run.cpu_ms:.3f} ms/req  load generator CPU "
                        f"{run.client_cpu_ms:.3f} ms/req",
                        file=sys.stderr,
                    )
    print(f"end: {_load_average()}", file=sys.stderr)
    _report(results, rates, modes, [t.name for t in targets])
    if args.profile:
        _profile(upstream_argv, base, policy, gw_port, work, env, args.seconds)
    shutil.rmtree(work, ignore_errors=True)


def _create_key(policy: Path, env: dict[str, str]) -> str:
    """A gateway key for the load (the gateway runs with --auth keys, as in production)."""
    out = subprocess.run(
        [PHASEROUTE, "keys", "create", str(policy), "--name", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return str(json.loads(out)["key"])


def settle(pids: list[int | None], idle: float = 0.05, limit_s: float = 30.0) -> None:
    """Wait until every server is idle (under `idle` of a core over 0.5 s): a server that
    fell behind keeps working through its backlog after the client gave up, and must not
    do so on the next target's time."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = [cpu_seconds(p) for p in pids]
        time.sleep(0.5)
        busy = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
        if all(not (b > idle * 0.5) for b in busy):  # NaN (no /proc) counts as idle
            return
    print(f"    (servers still busy after {limit_s:.0f} s; measuring anyway)", file=sys.stderr)


def _load_average() -> str:
    with suppress(OSError):
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return "load average unknown"


def run_loop(work: Coroutine[Any, Any, T]) -> T:
    """The load generator's event loop: uvloop when installed (less of the shared CPU
    goes to generating load), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


@contextmanager
def _litellm(
    executable: str | None, base: str, work: Path, env: dict[str, str]
) -> Iterator[tuple[int, int] | None]:
    if not executable:
        yield None
        return
    config = work / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(base=base, key=UPSTREAM_KEY, master_key=LITELLM_KEY))
    port = free_port()
    argv = [executable, "--config", str(config), "--port", str(port), "--num_workers", "1"]
    with process(
        argv, f"http://127.0.0.1:{port}/health/liveliness", work / "litellm.log", env, 180
    ) as proc:
        yield port, proc.pid


def _cell(run: Run, base: Run | None, rate: int) -> str:
    """Added (or, for the baseline, own) p50 / p99, with errors and a missed rate marked."""
    p50, p99 = (run.p50_ms, run.p99_ms) if base is None else (
        run.p50_ms - base.p50_ms, run.p99_ms - base.p99_ms
    )  # fmt: skip
    sign = "" if base is None else "+"
    out = f"{sign}{p50:.2f} / {sign}{p99:.2f} ms".replace("+-", "-")
    if run.errors:
        out += f" ({run.errors} err)"
    if run.achieved < rate * 0.95:
        out += f" [{run.achieved:.0f}/s]"
    return out


def _report(results: list[Run], rates: list[int], modes: list[bool], names: list[str]) -> None:
    by = {(r.target, r.rate, r.stream): r for r in results}
    others = [n for n in names if n != "direct"]
    print(
        "\nLatency (p50 / p99; targets: added over direct, same rate and mode; "
        "[n/s]: the rate it could not keep)"
    )
    print("\n| rate | mode | direct p50 / p99 | " + " | ".join(
        f"{n} added p50 / p99" for n in others
    ) + " |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(others))
    for rate in rates:
        for stream in modes:
            d = by[("direct", rate, stream)]
            cells = [_cell(by[(n, rate, stream)], d, rate) for n in others]
            print(
                f"| {rate}/s | {'SSE' if stream else 'JSON'} | {_cell(d, None, rate)} | "
                + " | ".join(cells)
                + " |"
            )
    print(
        "\nCPU time per request, ms (the serving process and its workers; the upstream for "
        "direct; 'load' = the load generator, this process, during the direct run)"
    )
    print("\n| rate | mode | load | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for rate in rates:
        for stream in modes:
            d = by[("direct", rate, stream)]
            cpu = [f"{by[(n, rate, stream)].cpu_ms:.3f}" for n in names]
            print(
                f"| {rate}/s | {'SSE' if stream else 'JSON'} | {d.client_cpu_ms:.3f} | "
                + " | ".join(cpu)
                + " |"
            )
    if "litellm" in names:
        print()
        for rate in rates:
            for stream in modes:
                d = by[("direct", rate, stream)]
                g = by[("gateway", rate, stream)].p99_ms - d.p99_ms
                lite = by[("litellm", rate, stream)].p99_ms - d.p99_ms
                ratio = g / lite if lite > 0 else float("nan")
                cpu = by[("gateway", rate, stream)].cpu_ms / by[("litellm", rate, stream)].cpu_ms
                print(
                    f"{rate}/s {'SSE ' if stream else 'JSON'}: gateway p99 added / LiteLLM p99 "
                    f"added = {ratio:.3f}; CPU per request, gateway / LiteLLM = {cpu:.2f}"
                )


def _components(work: Path, postgres: str | None) -> None:
    """Per-call cost of the operations components on the request path, in this process."""
    import io
    from datetime import UTC, datetime
    from decimal import Decimal

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from phaseroute.gateway._access import AccessControl
    from phaseroute.gateway._keys import KeyStore
    from phaseroute.gateway._logs import AccessLog
    from phaseroute.gateway._metrics import GatewayMetrics
    from phaseroute.gateway._summary import CallSummary
    from phaseroute.gateway._telemetry import GatewayTelemetry
    from phaseroute.policy import load_plan

    def per_call_us(fn: object, n: int) -> float:
        rounds = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                fn()  # type: ignore[operator]
            rounds.append((time.perf_counter() - t) / n * 1e6)
        return statistics.median(rounds)

    from phaseroute.audit import generate_key_pair

    generate_key_pair(work / "keys")
    policy = work / "components.yaml"
    policy.write_text(
        BENCH_POLICY.format(base="http://127.0.0.1:9", db=(work / "c.db").as_posix())
        + "budgets:\n  bench:\n    phases:\n      fast: {daily_usd: 1000000}\n"
    )
    plan = load_plan(policy)
    store = KeyStore.open(work / "c.db")
    secrets = [store.create(f"k{i}").secret for i in range(1000)]
    store.close()
    call = CallSummary(
        protocol="openai", method="POST", path="/v1/chat/completions", status=200,
        duration_s=0.0123, upstream_s=0.0101, request_id="r1", key_id="0123456789ab",
        workflow="bench", phase="fast", tier="cheap", model="small", provider="openai_compat",
        model_id="gpt-bench", model_reported="gpt-bench", input_tokens=12, output_tokens=6,
        cost_usd=Decimal("0.000036"), policy_hash="ab" * 32,
    )  # fmt: skip
    rows = []
    access = AccessControl.open(plan, work / "c.db", start=False)
    headers = {"authorization": f"Bearer {secrets[500]}"}
    rows.append(
        ("authenticate (1,000 keys)", per_call_us(lambda: access.authenticate(headers), 20000))
    )
    caller = access.authenticate(headers)
    rows.append(("authorize", per_call_us(lambda: access.authorize(caller, "bench"), 20000)))

    lines = access.budget_lines(caller, "bench", "fast")

    def budget_round_trip() -> None:  # what reserve/settle run on their worker thread
        held = access.book.reserve(lines, Decimal("0.001"), datetime.now(UTC))
        access.book.settle(held, Decimal("0.0008"))

    rows.append(("budget reserve + settle (SQLite)", per_call_us(budget_round_trip, 200)))
    access.close()
    if postgres:
        pg_access = AccessControl.open(plan, postgres, start=False)
        store = KeyStore.open(postgres)
        pg_secret = store.create("pg").secret
        store.close()
        pg_access.refresh()
        pg_caller = pg_access.authenticate({"x-api-key": pg_secret})

        pg_lines = pg_access.budget_lines(pg_caller, "bench", "fast")

        def pg_round_trip() -> None:
            held = pg_access.book.reserve(pg_lines, Decimal("0.001"), datetime.now(UTC))
            pg_access.book.settle(held, Decimal("0.0008"))

        rows.append(("budget reserve + settle (PostgreSQL)", per_call_us(pg_round_trip, 200)))
        pg_access.close()
    metrics = GatewayMetrics(plan)
    rows.append(("metrics observe", per_call_us(lambda: metrics.observe(call), 20000)))
    log = AccessLog(io.StringIO())
    rows.append(("access log line", per_call_us(lambda: log.write(call), 20000)))
    off = GatewayTelemetry()
    rows.append(("span, tracing off", per_call_us(lambda: off.start({}).finish(call), 20000)))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    on = GatewayTelemetry(provider)
    rows.append(
        ("span, tracing on (in-memory)", per_call_us(lambda: on.start({}).finish(call), 5000))
    )
    base = per_call_us(lambda: json.dumps(_COMPLETION), 20000)
    print("\n| component (median of 5 rounds) | µs per call | × json.dumps of the answer |")
    print("|---|---:|---:|")
    print(f"| baseline: json.dumps of the upstream answer | {base:.1f} | 1.0 |")
    for name, us in rows:
        print(f"| {name} | {us:.1f} | {us / base:.1f} |")


def _sdk_costs(work: Path, kb: int, calls: int = 3000, concurrency: int = 32) -> None:
    """CPU time per upstream call of the provider layer alone — the official SDK's raw
    post, as the gateway's same-protocol passthrough makes it — by transport and by how the
    body is handed over, against the bench upstream (in a process of its own: its CPU is not
    counted), interleaved 3 times. The floor: the same request on a bare aiohttp session."""
    import aiohttp
    import httpx2
    import openai
    import orjson

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    body = json.loads(_body("gpt-bench", False, kb))
    raw = _body("gpt-bench", False, kb)

    async def timed(send: Any) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                await send()

        await asyncio.gather(*(one() for _ in range(200)))  # connections, first-use costs
        before = time.process_time()
        await asyncio.gather(*(one() for _ in range(calls)))
        return (time.process_time() - before) / calls * 1000

    async def sdk(transport: str, as_bytes: bool = True) -> float:
        extra = {"http_client": openai.DefaultAioHttpClient()} if transport == "aiohttp" else {}
        client = openai.AsyncOpenAI(
            api_key=UPSTREAM_KEY, base_url=f"{base}/v1", max_retries=0, **extra
        )

        async def send() -> None:
            # The gateway hands over the body as orjson bytes; `body=` has the SDK write it.
            given = {"content": orjson.dumps(body)} if as_bytes else {"body": body}
            response = await client.post(
                "/chat/completions", cast_to=httpx2.Response, options={"headers": {}}, **given
            )
            _ = response.content

        try:
            return await timed(send)
        finally:
            await client.close()

    async def bare() -> float:
        async with aiohttp.ClientSession() as session:
            headers = {"authorization": f"Bearer {UPSTREAM_KEY}", "content-type": JSON}

            async def send() -> None:
                async with session.post(
                    f"{base}/v1/chat/completions", data=raw, headers=headers
                ) as r:
                    await r.read()

            return await timed(send)

    rows: dict[str, list[float]] = {}
    upstream_argv = [sys.executable, __file__, "--upstream", str(port)]
    with process(upstream_argv, f"{base}/v1/models", work / "upstream-sdk.log", os.environ):
        for _ in range(3):
            for name, work_item in (
                (
                    "openai SDK raw post, aiohttp transport, content= bytes (the gateway's)",
                    lambda: sdk("aiohttp"),
                ),
                (
                    "openai SDK raw post, aiohttp transport, body= dict",
                    lambda: sdk("aiohttp", False),
                ),
                ("openai SDK raw post, default httpx2 transport", lambda: sdk("httpx2")),
                ("bare aiohttp session (floor: no SDK)", bare),
            ):
                rows.setdefault(name, []).append(run_loop(work_item()))
    size = f"{len(raw) / 1000:.0f} kB body" if kb else "short body"
    print(
        f"\n| one upstream call, {size}, {concurrency} in flight (median of 3) | CPU ms per call |"
    )
    print("|---|---:|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(values):.3f} |")


def _profile(
    upstream_argv: list[str],
    base: str,
    policy: Path,
    port: int,
    work: Path,
    env: dict[str, str],
    seconds: float,
) -> None:
    out = work / "gateway.prof"
    argv = [
        sys.executable, "-m", "cProfile", "-o", str(out), PHASEROUTE, "serve",
        str(policy), "--auth", "keys", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    auth = f"authorization: Bearer {_create_key(policy, env)}\r\n"
    with (
        process(upstream_argv, f"{base}/v1/models", work / "upstream2.log", env),
        process(argv, f"http://127.0.0.1:{port}/readyz", work / "gw-prof.log", env),
    ):
        target = Target("gateway", port, "bench/fast", auth)
        run_loop(_load(target, 50, 1.0, False))
        run = run_loop(_load(target, 500, seconds, False))
        print(f"\nprofiled run: p50 {run.p50_ms:.2f} ms p99 {run.p99_ms:.2f} ms", file=sys.stderr)
    stats = pstats.Stats(str(out))
    print("\nwhere the gateway's time goes (cProfile, 500 req/s JSON), own time by package:")
    by_package: dict[str, float] = {}
    for (file, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package_of(file, function)] = (
            by_package.get(_package_of(file, function), 0) + row[2]
        )
    total = sum(by_package.values())
    for name, own in sorted(by_package.items(), key=lambda kv: -kv[1])[:20]:
        print(f"  {own / total:6.1%}  {name}")
    print("\ntop 25 functions by own time:")
    stats.sort_stats("tottime").print_stats(25)


def _package_of(file: str, function: str) -> str:
    """site-packages/<package>, phaseroute/<subpackage>, the stdlib module, or the builtin."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if "src/phaseroute/" in file:
        return "phaseroute." + file.split("src/phaseroute/", 1)[1].split("/", 1)[0]
    if file.startswith("~") or not file:
        return f"builtin {function}"
    return "stdlib " + Path(file).parent.name + "/" + Path(file).name


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--upstream":
        run_upstream(*(int(a) for a in sys.argv[2:]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--bare-proxy":
        run_bare_proxy(int(sys.argv[2]), sys.argv[3])
    else:
        main()
