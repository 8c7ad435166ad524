"""A policy over the local upstream, and the gateway served by uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from phaseroute.audit import generate_key_pair
from phaseroute.gateway import Gateway, GatewayOptions, create_app
from phaseroute.runtime import RetryPolicy, Router
from phaseroute.testing import Upstream

KEY_ENV = "PHASEROUTE_GATEWAY_TEST_KEY"
UPSTREAM_KEY = "sk-upstream-0123456789"

# Anthropic models for the coding workflow; OpenAI-compatible ones for the "support" workflow
# (routed there by justified overrides), so both protocols meet both kinds of upstream.
POLICY = """
version: 1
tiers: [cheap, top]
providers:
  ant: {{type: anthropic, api_key: env:{key}, base_url: "{base}", timeout_s: 10}}
  oai: {{type: openai_compat, api_key: env:{key}, base_url: "{base}/v1", timeout_s: 10}}
models:
  haiku: {{provider: ant, id: claude-haiku-test, tier: cheap}}
  opus: {{provider: ant, id: claude-opus-test, tier: top}}
  mini: {{provider: oai, id: gpt-mini-test, tier: cheap}}
  big: {{provider: oai, id: gpt-big-test, tier: top}}
controls:
  tests: {{description: the test suite catches execution mistakes}}
workflows:
  coding:
    phases:
      planning: {{kind: planning, catastrophic_error: missed_risk, feeds: [execution]}}
      execution: {{kind: execution, catastrophic_error: throughput, caught_by: tests}}
      review: {{kind: review, catastrophic_error: missed_risk, audit: true}}
  support:
    phases:
      triage:
        kind: screening
        catastrophic_error: throughput
        caught_by: tests
        route: {{model: mini, justification: the OpenAI-compatible endpoint in tests}}
      answer:
        kind: judgment
        catastrophic_error: missed_risk
        route: {{model: big, justification: the OpenAI-compatible endpoint in tests}}
aliases:
  "claude-opus-*": coding/planning
  "claude-sonnet-*": coding/execution
  "gpt-4o*": support/answer
database: "{db}"
audit:
  signing_key: file:keys/audit.key
"""


def write_policy(directory: Path, upstream: Upstream, extra: str = "") -> Path:
    path = directory / "phaseroute.yaml"
    if not (directory / "keys" / "audit.key").exists():
        generate_key_pair(directory / "keys")  # the audited phase's checkpoints are signed
    db = (directory / "phaseroute.db").as_posix()
    path.write_text(
        POLICY.format(key=KEY_ENV, base=upstream.base_url, db=db) + extra, encoding="utf-8"
    )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A gateway on uvicorn in a background thread, and its base URLs."""

    def __init__(self, gateway: Gateway, port: int) -> None:
        self.gateway = gateway
        self.port = port
        self.ledger = gateway.served.router.ledger
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(gateway),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        deadline = time.monotonic() + 60  # providers are built (SDKs imported) off the loop
        while not self.gateway.ready:
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not become ready")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def serve(
    policy: Path,
    *,
    access: Any = None,
    options: GatewayOptions | None = None,
    retry: RetryPolicy | None = None,
    audit: Any = None,
) -> Iterator[Served]:
    """The gateway for `policy`, on a free port; stopped (and the router closed) after."""
    router = Router.from_policy(
        policy,
        retry=retry or RetryPolicy(max_attempts=2, base_delay_s=0.01, attempt_timeout_s=5),
        audit=audit,
    )
    gateway = Gateway(router, access=access, options=options, policy_path=policy)
    served = Served(gateway, free_port()).start()
    try:
        yield served
    finally:
        served.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
