"""Tamper-evident audit trail: a SHA-256 hash chain of routed calls with Ed25519 checkpoints.

Records are canonical JSON (RFC 8785); request and response content lives in a separate,
erasable table and only their digests are chained. See docs/audit.md.
"""

from phaseroute.audit._bundle import ExportSummary, export_bundle, verify_bundle
from phaseroute.audit._entry import AuditEntry, AuditReceipt
from phaseroute.audit._inspect import (
    AuditRecord,
    AuditStats,
    ModelCount,
    PhaseCount,
    records_for_case,
    stats,
    trusted_keys,
    verify_store,
)
from phaseroute.audit._keys import (
    KeyPairFiles,
    generate_key_pair,
    key_id,
    load_public_key,
    load_signing_key,
)
from phaseroute.audit._store import ChainStore, Checkpoint
from phaseroute.audit._trail import AuditTrail
from phaseroute.audit._verify import Finding, FindingKind, VerificationReport

__all__ = [
    "AuditEntry",
    "AuditReceipt",
    "AuditRecord",
    "AuditStats",
    "AuditTrail",
    "ChainStore",
    "Checkpoint",
    "ExportSummary",
    "Finding",
    "FindingKind",
    "KeyPairFiles",
    "ModelCount",
    "PhaseCount",
    "VerificationReport",
    "export_bundle",
    "generate_key_pair",
    "key_id",
    "load_public_key",
    "load_signing_key",
    "records_for_case",
    "stats",
    "trusted_keys",
    "verify_bundle",
    "verify_store",
]
