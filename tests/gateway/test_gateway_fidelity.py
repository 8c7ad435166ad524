"""Same-protocol fidelity: the client's body goes upstream unchanged except `model`, and the
upstream's body and SSE events come back unchanged; through the official SDKs."""

from __future__ import annotations

import anthropic
import openai
from gateway_support import Served

from phaseroute.testing import Upstream


def _anthropic(gw: Served, **kw: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="client-key", max_retries=0, **kw)  # type: ignore[arg-type]


def test_anthropic_sdk_call_is_routed_by_model_name(gateway: Served, upstream: Upstream) -> None:
    client = _anthropic(gateway)
    raw = client.messages.with_raw_response.create(
        model="coding/execution",
        max_tokens=64,
        messages=[{"role": "user", "content": "fix the bug"}],
    )
    message = raw.parse()
    assert message.content[0].type == "text"
    assert "claude-haiku-test answers: fix the bug" in message.content[0].text
    assert raw.headers["x-phaseroute-phase"] == "coding/execution"
    assert raw.headers["x-phaseroute-model"] == "haiku"
    assert raw.headers["x-phaseroute-tier"] == "cheap"
    assert raw.headers["x-phaseroute-policy-hash"] == gateway.gateway.served.policy_hash
    assert upstream.received("claude-haiku-test")[-1].json_body()["model"] == "claude-haiku-test"


def test_openai_sdk_call_is_routed_by_alias(gateway: Served) -> None:
    client = openai.OpenAI(base_url=gateway.openai_url, api_key="client-key", max_retries=0)
    completion = client.chat.completions.create(
        model="gpt-4o-2024-08-06", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content == "gpt-big-test answers: hello"
    assert completion.model == "gpt-big-test"
