"""Fixtures: one local upstream per module, a policy over it, the gateway on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
