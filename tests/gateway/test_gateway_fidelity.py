"""Same-protocol fidelity: the client's body goes upstream unchanged except `model`, beta and
version headers are forwarded, and the upstream's body and SSE events come back unchanged;
the official SDKs are the clients, sync, async and streaming."""

from __future__ import annotations

import asyncio
import json

import anthropic
import httpx2
import openai
import pytest
from conftest import Clients
from gateway_support import Served

from phaseroute.testing import Upstream

BETA = "interleaved-thinking-2025-05-14,some-future-beta-2031-01-01"


def test_anthropic_sdk_call_is_routed_by_model_name(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    raw = clients.anthropic(gateway.url).messages.with_raw_response.create(
        model="coding/execution",
        max_tokens=64,
        messages=[{"role": "user", "content": "fix the bug"}],
    )
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "claude-haiku-test answers: fix the bug"
    assert raw.headers["x-phaseroute-phase"] == "coding/execution"
    assert raw.headers["x-phaseroute-model"] == "haiku"
    assert raw.headers["x-phaseroute-tier"] == "cheap"
    assert raw.headers["x-phaseroute-policy-hash"] == gateway.gateway.served.policy_hash
    assert raw.headers["request-id"].startswith("req_")
    assert upstream.received("claude-haiku-test")[-1].json_body()["model"] == "claude-haiku-test"


def test_unknown_fields_and_beta_headers_reach_the_upstream_unchanged(
    gateway: Served, upstream: Upstream
) -> None:
    extra = {
        "metadata": {"user_id": "u-42"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "future_field_2031": {"nested": [1, 2.5, "x", None, True], "unicode": "é✓"},
        "numbers": [1e-05, 1e300, -0.0, 0.1, 2**63],
        "tools": [
            {
                "name": "read_file",
                "description": "read a file",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "tool_choice": {"type": "auto"},
    }
    body = {
        "model": "claude-opus-4-7",  # an alias of coding/planning
        "max_tokens": 50,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "plan it", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
        **extra,
    }
    before = upstream.requests("claude-opus-test")
    response = httpx2.post(
        f"{gateway.url}/v1/messages?beta=true",
        content=json.dumps(body),
        headers={
            "anthropic-version": "2023-06-01",
            "anthropic-beta": BETA,
            "content-type": "application/json",
            "x-api-key": "client-key",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-phaseroute-phase"] == "coding/planning"
    got = upstream.received("claude-opus-test")[before]
    sent = got.json_body()
    assert sent == {**body, "model": "claude-opus-test"}
    assert list(sent) == list(body)  # the client's key order too
    assert got.headers["anthropic-beta"] == BETA
    assert got.headers["anthropic-version"] == "2023-06-01"
    # the policy's key went upstream (the upstream checks it), never the client's
    assert not any("client-key" in v for v in got.headers.values())
    # the upstream's own body: compact JSON with fields a translation would not invent
    assert b'"service_tier":"standard"' in response.content
    assert response.content.startswith(b'{"id":"msg_')


@pytest.mark.parametrize("odd", [2**70 + 1, "deep"])
def test_values_orjson_does_not_write_reach_the_upstream_exactly(
    gateway: Served, upstream: Upstream, odd: object
) -> None:
    # Beyond 64 bits, or deeper than 255 levels, the SDK writes the body itself.
    if odd == "deep":
        for _ in range(300):
            odd = [odd]
    body = {
        "model": "coding/execution",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "future_field_2031": odd,
    }
    before = upstream.requests("claude-haiku-test")
    response = httpx2.post(
        f"{gateway.url}/v1/messages", content=json.dumps(body), headers={"x-api-key": "k"}
    )
    assert response.status_code == 200, response.text
    sent = upstream.received("claude-haiku-test")[before].json_body()
    assert sent["future_field_2031"] == odd


def test_sse_events_come_back_as_the_upstream_sent_them(gateway: Served) -> None:
    body = {
        "model": "coding/execution",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "stream me a long enough answer"}],
    }
    with httpx2.stream(
        "POST", f"{gateway.url}/v1/messages", json=body, headers={"x-api-key": "k"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-phaseroute-model"] == "haiku"
        assert "x-phaseroute-cost-usd" not in response.headers  # known only at the end
        raw = b"".join(response.iter_bytes())
    events = [e for e in raw.split(b"\n\n") if e]
    names = [e.split(b"\n", 1)[0] for e in events]
    assert names[:3] == [b"event: message_start", b"event: content_block_start", b"event: ping"]
    assert names[-3:] == [
        b"event: content_block_stop",
        b"event: message_delta",
        b"event: message_stop",
    ]
    assert b'"service_tier":"standard"' in events[0]


def test_anthropic_sdk_streams_sync_and_async(gateway: Served, clients: Clients) -> None:
    with clients.anthropic(gateway.url).messages.stream(
        model="coding/execution",
        max_tokens=64,
        messages=[{"role": "user", "content": "sync stream"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "claude-haiku-test answers: sync stream"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0

    async def run() -> str:
        client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0)
        async with client.messages.stream(
            model="claude-sonnet-5-2",
            max_tokens=64,
            messages=[{"role": "user", "content": "async stream"}],
        ) as stream:
            parts = [t async for t in stream.text_stream]
        await client.close()
        return "".join(parts)

    assert asyncio.run(run()) == "claude-haiku-test answers: async stream"


def test_openai_sdk_sync_async_and_streaming(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    client = clients.openai(gateway.openai_url)
    completion = client.chat.completions.create(
        model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content == "gpt-big-test answers: hello"
    assert completion.model == "gpt-big-test"

    chunks = list(
        client.chat.completions.create(
            model="support/triage",
            messages=[{"role": "user", "content": "streamed"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "gpt-mini-test answers: streamed"
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0

    # without include_usage the client gets no usage chunk, but usage is still accounted
    quiet = list(
        client.chat.completions.create(
            model="support/triage", messages=[{"role": "user", "content": "quiet"}], stream=True
        )
    )
    assert all(c.usage is None for c in quiet)
    last = upstream.received("gpt-mini-test")[-1].json_body()
    assert last["stream_options"] == {"include_usage": True}

    async def run() -> str | None:
        aclient = openai.AsyncOpenAI(base_url=gateway.openai_url, api_key="k", max_retries=0)
        done = await aclient.chat.completions.create(
            model="support/answer", messages=[{"role": "user", "content": "async"}]
        )
        await aclient.close()
        return done.choices[0].message.content

    assert asyncio.run(run()) == "gpt-big-test answers: async"
