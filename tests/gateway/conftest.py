"""Fixtures: one local upstream per module, a policy over it, the gateway on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, serve, write_policy

from phaseroute.testing import Upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=11, api_key=UPSTREAM_KEY) as up:
        yield up


@pytest.fixture(scope="module")
def policy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policy(tmp_path_factory.mktemp("gateway"), upstream)


@pytest.fixture(scope="module")
def gateway(policy: Path) -> Iterator[Served]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy) as served:
            yield served


class Clients:
    """Official SDK clients for a test, closed when it ends (no sockets left to the GC)."""

    def __init__(self) -> None:
        self._open: list[Any] = []

    def anthropic(self, base_url: str) -> anthropic.Anthropic:
        client = anthropic.Anthropic(base_url=base_url, api_key="client-key", max_retries=0)
        self._open.append(client)
        return client

    def openai(self, base_url: str) -> openai.OpenAI:
        client = openai.OpenAI(base_url=base_url, api_key="client-key", max_retries=0)
        self._open.append(client)
        return client

    def close(self) -> None:
        for client in self._open:
            client.close()


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    made.close()
