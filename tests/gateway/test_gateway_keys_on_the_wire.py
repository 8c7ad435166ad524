"""Keys and budgets as clients meet them: 401, 403 and 429 in each protocol's own shape."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx2
import openai
import pytest
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, serve, write_policy

from phaseroute.gateway import AccessControl, _exchange
from phaseroute.gateway._keys import IssuedKey, KeyStore
from phaseroute.policy import load_plan
from phaseroute.testing import Upstream

PRICED = """
budgets:
  support:
    phases:
      answer: {daily_usd: 0.000001}
"""


@pytest.fixture(scope="module")
def keyed(
    upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, IssuedKey, IssuedKey]]:
    directory = tmp_path_factory.mktemp("keyed")
    policy = write_policy(directory, upstream, PRICED)
    text = policy.read_text(encoding="utf-8").replace(
        "big: {provider: oai, id: gpt-big-test, tier: top}",
        "big: {provider: oai, id: gpt-big-test, tier: top, "
        "price: {input_per_mtok: 10, output_per_mtok: 30}}",
    )
    policy.write_text(text, encoding="utf-8")
    plan = load_plan(policy)
    db = directory / "phaseroute.db"
    store = KeyStore.open(db)
    coder = store.create("coder", workflows=["coding"])
    anyone = store.create("support-desk", workflows=["support", "coding"])
    store.close()
    access = AccessControl.open(plan, db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy, access=access) as served:
            yield served, coder, anyone


def test_no_key_is_401_in_each_protocol(keyed: tuple[Served, IssuedKey, IssuedKey]) -> None:
    served, _, _ = keyed
    body = {
        "model": "coding/execution",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
    }
    ant = httpx2.post(f"{served.url}/v1/messages", json=body)
    assert ant.status_code == 401
    assert ant.json() == {"type": "error", "error": ant.json()["error"]}
    assert ant.json()["error"]["type"] == "authentication_error"
    oai = httpx2.post(f"{served.openai_url}/chat/completions", json=body)
    assert oai.status_code == 401
    assert oai.json()["error"]["code"] == "invalid_api_key"
    models = httpx2.get(f"{served.url}/v1/models")
    assert models.status_code == 401


def test_a_key_is_held_to_its_workflows(
    keyed: tuple[Served, IssuedKey, IssuedKey],
) -> None:
    served, coder, _ = keyed
    with anthropic.Anthropic(base_url=served.url, api_key=coder.secret, max_retries=0) as ok:
        ok.messages.create(
            model="coding/execution",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-phaseroute-case": "KEYED-1"},
        )
    with (
        openai.OpenAI(base_url=served.openai_url, api_key=coder.secret, max_retries=0) as oai,
        pytest.raises(openai.PermissionDeniedError),
    ):
        oai.chat.completions.create(
            model="support/triage", messages=[{"role": "user", "content": "x"}]
        )


def test_a_spent_budget_is_429_with_retry_after(
    keyed: tuple[Served, IssuedKey, IssuedKey],
) -> None:
    served, _, desk = keyed
    with (
        openai.OpenAI(base_url=served.openai_url, api_key=desk.secret, max_retries=0) as oai,
        pytest.raises(openai.RateLimitError) as info,
    ):
        oai.chat.completions.create(
            model="support/answer", messages=[{"role": "user", "content": "x"}]
        )
    assert int(info.value.response.headers["retry-after"]) > 0
    assert "support/answer" in info.value.message or "answer" in info.value.message


def test_only_a_call_under_a_budget_reads_its_body_for_a_cost_estimate(
    keyed: tuple[Served, IssuedKey, IssuedKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Approximating the tokens of a 100 kB body takes tens of milliseconds on the event
    # loop; a call no budget applies to must not pay it.
    served, coder, desk = keyed
    estimated: list[int] = []
    real = _exchange.approximate_tokens

    def counted(text: str) -> int:
        estimated.append(len(text))
        return real(text)

    monkeypatch.setattr(_exchange, "approximate_tokens", counted)
    with anthropic.Anthropic(base_url=served.url, api_key=coder.secret, max_retries=0) as free:
        free.messages.create(
            model="coding/execution",
            max_tokens=5,
            messages=[{"role": "user", "content": "x " * 5_000}],
        )
    assert estimated == []
    with (
        openai.OpenAI(base_url=served.openai_url, api_key=desk.secret, max_retries=0) as oai,
        pytest.raises(openai.RateLimitError),
    ):
        oai.chat.completions.create(
            model="support/answer", messages=[{"role": "user", "content": "x"}]
        )
    assert len(estimated) == 1
