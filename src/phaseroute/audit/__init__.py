"""Tamper-evident audit trail: a SHA-256 hash chain of routed calls with Ed25519 checkpoints.

Records are canonical JSON (RFC 8785); request and response content lives in a separate,
erasable table and only their digests are chained. See docs/audit.md.
"""

from phaseroute.audit._entry import AuditEntry, AuditReceipt
from phaseroute.audit._keys import (
    KeyPairFiles,
    generate_key_pair,
    key_id,
    load_public_key,
    load_signing_key,
)
from phaseroute.audit._store import Checkpoint
from phaseroute.audit._trail import AuditTrail

__all__ = [
    "AuditEntry",
    "AuditReceipt",
    "AuditTrail",
    "Checkpoint",
    "KeyPairFiles",
    "generate_key_pair",
    "key_id",
    "load_public_key",
    "load_signing_key",
]
