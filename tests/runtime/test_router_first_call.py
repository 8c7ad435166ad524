"""Providers are built with the router, before any call's clock starts: the first call of a
fresh process does not pay the SDK's import and client construction against its attempt
timeout, so it answers on its first attempt with exactly one upstream request."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_policies import wire_policy

from phaseroute.testing.upstream import Upstream

# Far below an SDK's import and client construction in a fresh process (seconds), far above
# one local request.
ATTEMPT_TIMEOUT_S = 0.5

SCRIPT = """
import asyncio, json, sys
from phaseroute.runtime import RetryPolicy, Router

retry = RetryPolicy(max_attempts=3, base_delay_s=0.01, attempt_timeout_s={timeout}, deadline_s=30)
router = Router.from_policy(sys.argv[1], database=sys.argv[2], retry=retry)
messages = [{{"role": "user", "content": "first call"}}]
if sys.argv[3] == "async":
    async def run():
        async with router:
            return await router.acomplete("wf", "judge", messages)
    result = asyncio.run(run())
else:
    with router:
        result = router.complete("wf", "judge", messages)
print(json.dumps([a.error for a in result.attempts]))
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=6) as up:
        yield up


# Each case is a fresh interpreter (seconds on a busy machine): both SDKs, both call styles.
@pytest.mark.parametrize(("sdk", "mode"), [("anthropic", "sync"), ("openai", "async")])
def test_the_first_call_of_a_process_is_one_request(
    tmp_path: Path, upstream: Upstream, sdk: str, mode: str
) -> None:
    model = f"first-{sdk}-{mode}"
    path = wire_policy(tmp_path, upstream.base_url, sdk, top=model)
    script = textwrap.dedent(SCRIPT).format(timeout=ATTEMPT_TIMEOUT_S)
    run = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "usage.db"), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [None]  # one attempt, no error
    assert upstream.requests(model) == 1
