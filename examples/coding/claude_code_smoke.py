"""Claude Code (the real CLI, non-interactive) -> `phaseroute serve` -> the local upstream.

Runs `claude -p ... --model opusplan` twice — in plan mode (Claude Code asks for its Opus
model) and not (it asks for Sonnet) — against this example's policy served by the gateway,
with the Anthropic API replaced by phaseroute's local upstream. Prints which phase and
model each request was routed to and which headers reached the upstream. No network, no key.

    npm install --prefix /tmp/cc @anthropic-ai/claude-code
    python examples/coding/claude_code_smoke.py /tmp/cc/node_modules/.bin/claude
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from phaseroute.audit import generate_key_pair
from phaseroute.testing import Upstream

HERE = Path(__file__).resolve().parent
PORT = 18899


def main(claude: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="phaseroute-cc-"))
    with Upstream(seed=5) as upstream:
        policy = work / "phaseroute.yaml"
        generate_key_pair(work / "keys")  # the audited review phase signs its checkpoints
        policy.write_text(
            (HERE / "phaseroute.yaml")
            .read_text(encoding="utf-8")
            .replace("type: anthropic\n", f'type: anthropic\n    base_url: "{upstream.base_url}"\n')
            .replace("database: phaseroute.db", f"database: {work / 'phaseroute.db'}"),
            encoding="utf-8",
        )
        log = (work / "gateway.log").open("w")
        gateway = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "phaseroute"),
                "serve",
                str(policy),
                "--port",
                str(PORT),
            ],
            env={**os.environ, "ANTHROPIC_API_KEY": "upstream-key"},
            stderr=log,
        )
        try:
            for _ in range(600):
                try:
                    if httpx2.get(f"http://127.0.0.1:{PORT}/readyz").status_code == 200:
                        break
                except httpx2.HTTPError:
                    pass
                time.sleep(0.1)
            env = {
                "PATH": os.environ["PATH"],
                "HOME": str(work),
                "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{PORT}",
                "ANTHROPIC_API_KEY": "local-client-key",
                # the names Claude Code asks for; the policy's aliases route them to phases
                "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-5-5",
                "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-5-5",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-5-5",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_TELEMETRY": "1",
                "DISABLE_AUTOUPDATER": "1",
                "DISABLE_ERROR_REPORTING": "1",
            }
            for extra in ([], ["--permission-mode", "plan"]):
                done = subprocess.run(
                    [claude, "-p", "Say hello in five words.", "--model", "opusplan", *extra],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=180,
                    cwd=work,
                    check=False,
                )
                mode = "plan mode" if extra else "default mode"
                print(f"claude -p --model opusplan ({mode}): exit {done.returncode}")
        finally:
            gateway.terminate()
            gateway.wait(30)
            log.close()
        for line in (work / "gateway.log").read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                print(
                    f"  {r['path']} -> {r['workflow']}/{r['phase']} on {r['model']} "
                    f"({r['tier']}), stream={r['stream']}, status {r['status']}"
                )
        for request in upstream.received():
            betas = request.headers.get("anthropic-beta", "")
            print(f"  upstream got {request.model}: anthropic-beta {betas[:60]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "claude"))
