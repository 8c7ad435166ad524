"""The PostgreSQL writer keeps its connection between appends; one whose server side went
away while idle (a restart, a terminated backend) is replaced before the next append, so
that append does not fail."""

from __future__ import annotations

import time

import psycopg
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phaseroute.audit import AuditTrail


def test_an_append_after_the_backend_died_while_idle_succeeds(
    pg_location: str, signing_key: Ed25519PrivateKey
) -> None:
    with AuditTrail.open(pg_location, signing_key=signing_key) as trail:
        trail.append(sample_entry(0))
        with psycopg.connect(pg_location, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND application_name = '' AND state = 'idle'"
                " AND query LIKE '%pg_logical_emit_message%'"
            ).fetchall()
        assert killed == [(True,)]
        time.sleep(1.1)  # idle long enough to be pinged
        receipt = trail.append(sample_entry(1))
        assert receipt.sequence == 2
        trail.checkpoint()
        assert trail.verify().ok
