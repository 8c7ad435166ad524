"""Budgets through the served gateway: a spent phase budget is a 429 with retry-after in the
client's protocol, and a reloaded policy's budgets apply from the next call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anthropic
import pytest
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, serve, write_policy

from phaseroute.gateway._access import AccessControl
from phaseroute.gateway._keys import KeyStore
from phaseroute.policy import load_plan
from phaseroute.testing import Upstream

PRICE = "price: {input_per_mtok: 1000, output_per_mtok: 1000}"  # $0.001 a token
BUDGETS = "budgets:\n  coding:\n    phases:\n      execution: {daily_usd: 0.05}\n"


def _loop(served: Served) -> asyncio.AbstractEventLoop:
    return served.server.servers[0].get_loop()  # type: ignore[no-any-return]


def test_a_reloaded_budget_refuses_the_next_call(upstream: Upstream, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, upstream)
    text = policy.read_text(encoding="utf-8").replace("tier: cheap}", f"tier: cheap, {PRICE}}}")
    policy.write_text(text, encoding="utf-8")
    store = KeyStore.open(tmp_path / "phaseroute.db")
    key = store.create("ci").secret
    store.close()
    access = AccessControl.open(load_plan(policy), tmp_path / "phaseroute.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy, access=access) as served:
            client = anthropic.Anthropic(base_url=served.url, api_key=key, max_retries=0)
            ask = {"max_tokens": 100, "messages": [{"role": "user", "content": "x"}]}
            client.messages.create(model="coding/execution", **ask)  # no budget yet
            policy.write_text(text + BUDGETS, encoding="utf-8")
            asyncio.run_coroutine_threadsafe(served.gateway.reload(), _loop(served)).result(30)
            # 100 output tokens alone may cost $0.10: over the phase's $0.05 a day
            with pytest.raises(anthropic.RateLimitError) as info:
                client.messages.create(model="coding/execution", **ask)
            assert "daily budget of phase 'coding/execution'" in info.value.message
            assert float(info.value.response.headers["retry-after"]) > 0
            # other phases have no budget and still answer
            client.messages.create(model="coding/planning", **ask)
            client.close()
