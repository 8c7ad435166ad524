"""Durability on PostgreSQL when the *server* crashes: a private PostgreSQL (initdb in a temp
directory) is stopped with ``pg_ctl stop -m immediate`` while two writer processes append in
a loop, then restarted (crash recovery). Every acknowledged append must be there, and the
chain must verify.

Appends commit their records with ``synchronous_commit = off`` and then wait for a flush in
a second transaction (docs/audit.md, "Durable appends on PostgreSQL"). The server runs with
``wal_writer_delay = 10s``, so an acknowledged record whose flush the writer skipped would
still sit in the WAL buffers when the server dies, and be lost.

Skipped where no PostgreSQL server binaries are installed.
"""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from audit_samples import read_acks

from phaseroute.audit import AuditTrail, generate_key_pair, load_signing_key

WRITER = Path(__file__).resolve().parent / "audit_writer.py"
ROUNDS = 3
WRITERS = 2


def _bindir() -> Path | None:
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class _Server:
    """A throw-away PostgreSQL cluster; as root it runs as the `postgres` user."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.data = root / "data"
        self.log = root / "server.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self.prefix, str(self.bindir / tool), *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=on"
            " -c wal_writer_delay=10s -c wal_writer_flush_after=0 -c synchronous_commit=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")


@pytest.fixture
def server() -> Iterator[_Server]:
    bindir = _bindir()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL server binaries to run a private server")
    root = Path(tempfile.mkdtemp(prefix="phaseroute-pgcrash-"))
    try:
        srv = _Server(bindir, root)
        srv.start()
        yield srv
        srv.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_server_crash_never_loses_an_acknowledged_append(server: _Server, tmp_path: Path) -> None:
    # The server's default is synchronous_commit=off: the store must not rely on it.
    keys = generate_key_pair(tmp_path / "keys")
    key = load_signing_key(f"file:{keys.private_key}")
    AuditTrail.open(server.url).close()
    rng = random.Random(7)
    acked: dict[int, str] = {}
    for round_no in range(ROUNDS):
        ack_files = [tmp_path / f"acks-{round_no}-{w}.txt" for w in range(WRITERS)]
        procs = [
            subprocess.Popen(
                [
                    *(sys.executable, str(WRITER), server.url, str(keys.private_key)),
                    *(str(ack), "0", f"r{round_no}w{w}"),
                ],
                stderr=subprocess.DEVNULL,
            )
            for w, ack in enumerate(ack_files)
        ]
        deadline = time.monotonic() + 60
        while min(len(read_acks(a)) for a in ack_files) < 20:
            assert all(p.poll() is None for p in procs), "a writer exited before the crash"
            assert time.monotonic() < deadline, "the writers never got going"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.2))
        server.crash()
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
        for ack in ack_files:
            round_acks = read_acks(ack)
            assert not set(round_acks) & set(acked), "a sequence number was handed out twice"
            acked.update(round_acks)
        server.start()  # crash recovery replays the WAL
        with psycopg.connect(server.url) as conn:
            stored = dict(conn.execute("SELECT seq, body FROM audit_records").fetchall())
        missing = sorted(s for s in acked if s not in stored)
        assert not missing, f"round {round_no}: {len(missing)} acknowledged appends lost"
        for seq, request_id in acked.items():
            assert json.loads(stored[seq])["request_id"] == request_id
        with AuditTrail.open(server.url) as trail:
            report = trail.verify([key.public_key()], allow_uncovered=True)
        assert report.ok, [f.render() for f in report.findings]
        assert report.records == len(stored) >= len(acked)
