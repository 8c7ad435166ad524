"""How long `phaseroute serve` takes to start: to listening (/healthz) and to ready (/readyz,
providers built), against baselines measured in the same run — a bare interpreter and
`phaseroute check` on the same policy (process start, imports, policy compile).

    python bench/bench_serve_startup.py [--policy examples/coding/phaseroute.yaml] [--runs 5]

No upstream call is made (the provider key is a placeholder). Prints medians in seconds,
and the load average at the end (the machine is shared: read the ratio to `check`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from phaseroute.audit import generate_key_pair

ROOT = Path(__file__).resolve().parent.parent
PHASEROUTE = str(Path(sys.executable).parent / "phaseroute")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=_env())
    return time.perf_counter() - t0


def _env() -> dict[str, str]:
    return {**os.environ, "ANTHROPIC_API_KEY": "placeholder", "OPENAI_API_KEY": "placeholder"}


def _serve(policy: Path, workdir: Path) -> tuple[float, float]:
    port = _port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    process = subprocess.Popen(
        [PHASEROUTE, "serve", str(policy), "--port", str(port), "--log-level", "warning"],
        env=_env(),
        cwd=workdir,
        stderr=subprocess.DEVNULL,
    )
    listening = ready = None
    try:
        while ready is None:
            if process.poll() is not None:
                raise RuntimeError("phaseroute serve exited")
            try:
                if listening is None and httpx2.get(f"{url}/healthz").status_code == 200:
                    listening = time.perf_counter() - t0
                if httpx2.get(f"{url}/readyz").status_code == 200:
                    ready = time.perf_counter() - t0
            except httpx2.HTTPError:
                pass
            time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(30)
    assert listening is not None
    return listening, ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policy", type=Path, default=ROOT / "examples/coding/phaseroute.yaml")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="phaseroute-startup-"))
    policy = workdir / args.policy.name
    shutil.copy(args.policy, policy)  # beside its own audit signing key and database
    generate_key_pair(workdir / "keys")
    bare, check, listening, ready = [], [], [], []
    for _ in range(args.runs):  # interleaved, so load on the machine hits all alike
        bare.append(_timed([sys.executable, "-c", "pass"]))
        check.append(_timed([PHASEROUTE, "check", str(policy)]))
        up, done = _serve(policy, workdir)
        listening.append(up)
        ready.append(done)
    med = statistics.median
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"policy: {args.policy}  runs: {args.runs} (medians, seconds); load average {load}")
    print(f"  bare interpreter start          {med(bare):6.3f}")
    print(f"  phaseroute check (baseline)     {med(check):6.3f}")
    print(f"  serve: listening (/healthz 200) {med(listening):6.3f}")
    print(f"  serve: ready (/readyz 200)      {med(ready):6.3f}")
    print(f"  listening / check               {med(listening) / med(check):6.2f}x")


if __name__ == "__main__":
    main()
