"""Nothing a client sends changes where a call goes or which key it uses (SSRF); bodies over
the limit are refused with 413 before they are read; open mode is loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, serve

from phaseroute.errors import RequestError
from phaseroute.gateway import GatewayOptions
from phaseroute.gateway._server import check_open_mode, keys_required
from phaseroute.testing import Upstream


@pytest.fixture(scope="module")
def evil() -> Iterator[Upstream]:
    """Where an attacker would like the calls to go."""
    with Upstream(seed=3) as up:
        yield up


@pytest.fixture(scope="module")
def small(policy: Path) -> Iterator[Served]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy, options=GatewayOptions(max_body_bytes=2048)) as served:
            yield served


def test_base_url_fields_and_forwarding_headers_change_nothing(
    gateway: Served, upstream: Upstream, evil: Upstream
) -> None:
    before = upstream.requests("claude-haiku-test")
    for protocol, path, body in (
        (
            "anthropic",
            "/v1/messages",
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        ),
        ("openai", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}),
    ):
        hostile = {
            **body,
            "model": "coding/execution",
            "base_url": evil.base_url,
            "api_base": evil.openai_base_url,
            "extra_headers": {"host": "127.0.0.1"},
        }
        if protocol == "openai":
            hostile = {k: v for k, v in hostile.items() if k != "base_url"}
        response = httpx2.post(
            f"{gateway.url}{path}",
            json=hostile,
            headers={
                "host": evil.base_url.removeprefix("http://"),
                "x-forwarded-host": evil.base_url.removeprefix("http://"),
                "x-forwarded-proto": "http",
                "forwarded": f"host={evil.base_url.removeprefix('http://')}",
                "x-original-url": evil.base_url,
                "authorization": "Bearer attacker-key",
                "x-api-key": "attacker-key",
            },
        )
        assert response.status_code in (200, 400), response.text
    assert evil.requests() == 0
    sent = upstream.received("claude-haiku-test")[before:]
    for request in sent:
        assert not any("attacker-key" in v for v in request.headers.values())
        assert not any(k.startswith("x-forwarded") for k in request.headers)


def test_an_oversized_body_is_a_413_in_each_protocol(small: Served) -> None:
    big = {
        "model": "coding/execution",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x" * 5000}],
    }
    ant = httpx2.post(f"{small.url}/v1/messages", json=big)
    assert ant.status_code == 413
    assert ant.json()["error"]["type"] == "request_too_large"
    assert "2,048 bytes" in ant.json()["error"]["message"]
    oai = httpx2.post(f"{small.openai_url}/chat/completions", json=big)
    assert oai.status_code == 413
    assert oai.json()["error"]["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it arrives
        yield b'{"model": "coding/execution", "pad": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    streamed = httpx2.post(f"{small.url}/v1/messages", content=chunks())
    assert streamed.status_code == 413


def test_open_mode_is_loopback_only() -> None:
    check_open_mode("127.0.0.1", None)
    check_open_mode("::1", None)
    with pytest.raises(RequestError, match="loopback only"):
        check_open_mode("0.0.0.0", None)
    assert keys_required("0.0.0.0", "auto")
    assert not keys_required("127.0.0.1", "auto")
    assert keys_required("127.0.0.1", "keys")
    with pytest.raises(RequestError, match="loopback only"):
        keys_required("10.0.0.5", "none")
