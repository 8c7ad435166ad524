"""Errors in the client's own protocol and status; unknown names are 404s that list the valid
ones; upstream verdicts keep their wording; retry-after where the client should retry."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest
from conftest import Clients
from gateway_support import Served

from phaseroute.testing import Outcome, OutcomeKind, Upstream


def test_unknown_model_is_a_404_listing_the_names_in_each_protocol(
    gateway: Served, clients: Clients
) -> None:
    ant = clients.anthropic(gateway.url)
    with pytest.raises(anthropic.NotFoundError) as a:
        ant.messages.create(
            model="gpt-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert a.value.body["type"] == "error"  # type: ignore[index]
    message = a.value.body["error"]["message"]  # type: ignore[index]
    assert "coding/planning" in message
    assert "claude-opus-*" in message

    oai = clients.openai(gateway.openai_url)
    with pytest.raises(openai.NotFoundError) as o:
        oai.chat.completions.create(model="wf/nope", messages=[{"role": "user", "content": "x"}])
    assert o.value.code == "model_not_found"
    assert "support/answer" in o.value.message


def test_headers_choose_the_phase_and_must_name_one(gateway: Served) -> None:
    body = {"model": "anything", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    ok = httpx2.post(
        f"{gateway.url}/v1/messages",
        json=body,
        headers={"x-phaseroute-workflow": "coding", "x-phaseroute-phase": "planning"},
    )
    assert ok.status_code == 200
    assert ok.headers["x-phaseroute-phase"] == "coding/planning"
    half = httpx2.post(
        f"{gateway.url}/v1/messages", json=body, headers={"x-phaseroute-phase": "planning"}
    )
    assert half.status_code == 400
    assert "x-phaseroute-workflow" in half.json()["error"]["message"]
    wrong = httpx2.post(
        f"{gateway.url}/v1/messages",
        json=body,
        headers={"x-phaseroute-workflow": "coding", "x-phaseroute-phase": "nope"},
    )
    assert wrong.status_code == 404


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        # Python's parser accepts these; JSON (RFC 8259) and the providers do not.
        (b'{"model": "support/triage", "temperature": NaN, "messages": []}', "NaN"),
        (b'{"model": "coding/execution", "top_p": -Infinity, "messages": []}', "-Infinity"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(
    gateway: Served, content: bytes, words: str
) -> None:
    response = httpx2.post(f"{gateway.url}/v1/chat/completions", content=content)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert words in error["message"]


def test_an_exhausted_phase_is_overloaded_with_retry_after(
    gateway: Served, upstream: Upstream
) -> None:
    # every model of the chain is rate limited (2 attempts each)
    for model in ("claude-opus-test", "gpt-big-test"):
        upstream.enqueue(model, *(Outcome.rate_limited(3) for _ in range(2)))
    response = httpx2.post(
        f"{gateway.url}/v1/messages",
        json={
            "model": "coding/planning",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
        timeout=30,
    )
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"
    assert response.headers["retry-after"] == "3"

    for model in ("gpt-big-test", "claude-opus-test"):
        upstream.enqueue(model, *(Outcome(OutcomeKind.SERVER_ERROR) for _ in range(2)))
    oai = httpx2.post(
        f"{gateway.openai_url}/chat/completions",
        json={"model": "support/answer", "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )
    assert oai.status_code == 503
    assert oai.json()["error"]["type"] == "server_error"


def test_an_upstream_400_keeps_its_wording(
    gateway: Served, upstream: Upstream, clients: Clients
) -> None:
    said = "prompt is too long: 250000 tokens > 200000 maximum"
    for model in ("claude-opus-test", "gpt-big-test"):
        upstream.enqueue(model, Outcome(OutcomeKind.BAD_REQUEST, message=said))
    client = clients.anthropic(gateway.url)
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(
            model="coding/planning", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert said in e.value.body["error"]["message"]  # type: ignore[index]


def test_unknown_paths_and_methods_answer_in_json(gateway: Served) -> None:
    missing = httpx2.get(f"{gateway.url}/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no such endpoint: /v1/nothing"
    wrong = httpx2.get(f"{gateway.url}/v1/messages")
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "error"
