"""`phaseroute serve` as a user runs it: start, log the routes, answer `curl`, reload on
SIGHUP, stop cleanly on SIGTERM; mistakes are located messages, not tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from gateway_support import KEY_ENV, UPSTREAM_KEY, free_port, write_policy

from phaseroute.cli._app import run
from phaseroute.testing import Upstream

PHASEROUTE = str(Path(sys.executable).parent / "phaseroute")


def _wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the gateway exited"
        try:
            if httpx2.get(f"{url}/readyz").status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the gateway never became ready")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_serve_answers_curl_reloads_on_sighup_and_stops_on_sigterm(
    upstream: Upstream, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, upstream)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [PHASEROUTE, "serve", str(policy), "--port", str(port)],
            env={**os.environ, KEY_ENV: UPSTREAM_KEY},
            stderr=err,
        )
    try:
        _wait_ready(url, process)
        first_hash = httpx2.get(f"{url}/readyz").json()["policy_hash"]
        body = json.dumps(
            {
                "model": "coding/execution",
                "max_tokens": 32,
                "messages": [{"role": "user", "content": "hello from curl"}],
            }
        )
        out = subprocess.run(
            ["curl", "-sS", "-i", f"{url}/v1/messages", "-H", "content-type: application/json",
             "-H", "anthropic-version: 2023-06-01", "-d", body],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert "HTTP/1.1 200" in out.stdout
        assert "x-phaseroute-phase: coding/execution" in out.stdout
        assert "claude-haiku-test answers: hello from curl" in out.stdout

        policy.write_text(
            policy.read_text(encoding="utf-8").replace(
                '"gpt-4o*": support/answer', '"gpt-4o*": support/triage'
            ),
            encoding="utf-8",
        )
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while httpx2.get(f"{url}/readyz").json()["policy_hash"] == first_hash:
            assert time.monotonic() < deadline, "SIGHUP did not reload the policy"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    text = log.read_text(encoding="utf-8")
    # uvicorn re-raises the signal once it has shut down gracefully
    assert code in (0, -signal.SIGTERM), text
    assert f"policy hash {first_hash}" in text
    assert "route coding/planning -> opus [claude-opus-test] tier=top" in text
    assert "policy reloaded: hash" in text
    assert "gateway stopped: ledger flushed, audit trail closed" in text
    assert UPSTREAM_KEY not in text


def test_serve_refuses_open_mode_off_loopback(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["serve", str(policy), "--host", "0.0.0.0", "--auth", "none"]) == 1
    assert "loopback only" in capsys.readouterr().err


def test_serve_names_a_missing_provider_key_before_listening(
    policy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert run(["serve", str(policy), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert KEY_ENV in err
    assert "Traceback" not in err


def test_serve_points_at_a_broken_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\ntiers: [a]\n", encoding="utf-8")
    assert run(["serve", str(bad)]) == 1
    assert "p.yaml" in capsys.readouterr().err
