"""The real Claude Code CLI, unmodified, pointed at the gateway by its documented settings.

Claude Code's LLM-gateway contract: `ANTHROPIC_BASE_URL` names the gateway, requests go to
`/v1/messages?beta=true` with `anthropic-beta`/`anthropic-version` headers, always streamed;
`ANTHROPIC_DEFAULT_OPUS_MODEL`/`..._SONNET_MODEL` name the models it asks for, which the
policy's aliases route to phases; `ANTHROPIC_CUSTOM_HEADERS` adds phaseroute's own headers.
The CLI is the npm package `@anthropic-ai/claude-code` (a native binary inside a registry
package; `.ci/run` installs it under `.tools/`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, serve, write_policy

from phaseroute.audit import AuditTrail, records_for_case
from phaseroute.testing import Upstream, UpstreamRequest
from phaseroute.testing.upstream import ToolCall, Turn

ROOT = Path(__file__).resolve().parents[2]
CLIENT_KEY = "client-key-the-gateway-does-not-forward"
HAIKU, OPUS = "claude-haiku-test", "claude-opus-test"  # the policy's cheap and top models


def _claude() -> str | None:
    for candidate in (
        os.environ.get("PHASEROUTE_CLAUDE"),
        str(ROOT / ".tools" / "node_modules" / ".bin" / "claude"),
        shutil.which("claude"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CLAUDE = _claude()
if CLAUDE is None:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError("Claude Code is missing: .ci/run installs it under .tools/")
    pytest.skip(
        "Claude Code is not installed (npm install --prefix .tools @anthropic-ai/claude-code@2)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def coding(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    policy = write_policy(tmp_path_factory.mktemp("claude-code"), upstream)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy) as served:
            yield served


def _run(
    served: Served, work: Path, prompt: str, *args: str, headers: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),  # no user settings, no login
        "ANTHROPIC_BASE_URL": served.url,
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-5-5",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-5-5",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-sonnet-5-5",
        "ANTHROPIC_CUSTOM_HEADERS": headers,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    assert CLAUDE is not None
    return subprocess.run(
        [CLAUDE, "-p", prompt, *args],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _counts(upstream: Upstream) -> dict[str, int]:
    return {model: len(upstream.received(model)) for model in (HAIKU, OPUS)}


def _since(upstream: Upstream, before: dict[str, int]) -> dict[str, list[UpstreamRequest]]:
    """The requests each model received after `before` (a `_counts`), oldest first."""
    return {model: list(upstream.received(model))[n:] for model, n in before.items()}


def test_opusplan_plans_on_the_planning_phase_and_executes_on_the_execution_phase(
    coding: Served, upstream: Upstream, tmp_path: Path
) -> None:
    before = _counts(upstream)
    done = _run(coding, tmp_path, "Say hello in five words.", "--model", "opusplan")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{HAIKU} answers:")  # the upstream's own text
    planned = _run(
        coding, tmp_path, "Plan a refactor.", "--model", "opusplan", "--permission-mode", "plan"
    )
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.startswith(f"{OPUS} answers:")
    got = _since(upstream, before)
    # execution (Sonnet asked for) went to the cheap model, planning (Opus) to the top one
    (executed,), (planned_call,) = got[HAIKU], got[OPUS]
    assert "Say hello in five words." in executed.raw_body.decode()
    assert "Plan a refactor." in planned_call.raw_body.decode()
    for request in (executed, planned_call):
        assert request.path.startswith("/v1/messages")
        assert request.stream
        assert request.tools  # Claude Code's own tools reached the upstream untouched
        assert "claude-code-20250219" in request.headers["anthropic-beta"]
        assert request.headers["anthropic-version"] == "2023-06-01"
        # the policy's key went upstream; the client's key never leaves the gateway
        auth = request.headers.get("authorization", "").removeprefix("Bearer ")
        assert UPSTREAM_KEY in (request.headers.get("x-api-key"), auth)
        assert CLIENT_KEY not in str(request.headers)
        assert request.json_body()["model"] == request.model


def test_a_tool_round_trip_runs_a_claude_code_tool_through_the_gateway(
    coding: Served, upstream: Upstream, tmp_path: Path
) -> None:
    proof = tmp_path / "proof.txt"

    def agent(request: UpstreamRequest) -> str | Turn:
        if request.tool_results:
            return "I wrote the file."
        return Turn(
            text="Writing it.",
            tool_calls=(ToolCall("Write", {"file_path": str(proof), "content": "routed\n"}),),
        )

    upstream.program(HAIKU, reply=agent)
    try:
        before = _counts(upstream)
        done = _run(
            coding, tmp_path, "Write proof.txt.", "--model", "sonnet", "--allowedTools", "Write"
        )
    finally:
        upstream.program(HAIKU)
    assert done.returncode == 0, done.stderr
    assert "I wrote the file." in done.stdout
    assert proof.read_text(encoding="utf-8") == "routed\n"
    got = _since(upstream, before)
    assert got[OPUS] == []
    first, second = got[HAIKU]
    assert not first.tool_results
    assert [r.is_error for r in second.tool_results] == [False]


def test_custom_headers_send_a_review_to_the_audited_phase_under_a_case_id(
    coding: Served, upstream: Upstream, tmp_path: Path
) -> None:
    headers = "x-phaseroute-workflow: coding\nx-phaseroute-phase: review\nx-phaseroute-case: PR-42"
    done = _run(coding, tmp_path, "Review this diff.", "--model", "sonnet", headers=headers)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{OPUS} answers:")  # review: the top tier
    audit = coding.gateway.served.router.audit
    assert isinstance(audit, AuditTrail)
    (record,) = records_for_case(audit.store, "PR-42")
    assert (record.fields["workflow"], record.fields["phase"]) == ("coding", "review")
