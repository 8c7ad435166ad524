"""Tamper-evident audit trail: a SHA-256 hash chain of routed calls, an RFC 9162 Merkle tree
over it, and Ed25519-signed tree heads (C2SP signed notes) that witnesses hold outside.

Records are canonical JSON (RFC 8785); request and response content lives in a separate,
erasable table and only their digests are chained; erasures are chained records. See
docs/audit.md.
"""

from phaseroute.audit._bundle import ExportSummary, export_bundle, verify_bundle
from phaseroute.audit._entry import AuditEntry, AuditReceipt, policy_event
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
from phaseroute.audit._proofs import ProofCheck, prove_consistency, prove_inclusion, verify_proof
from phaseroute.audit._snapshot import Checkpoint
from phaseroute.audit._store import ChainStore
from phaseroute.audit._trail import AuditTrail
from phaseroute.audit._verify import Finding, FindingKind, Verdict, VerificationReport
from phaseroute.audit._witness import (
    DirectoryWitness,
    PublishedHead,
    Witness,
    WitnessCheck,
    check_against_witness,
)

__all__ = [
    "AuditEntry",
    "AuditReceipt",
    "AuditRecord",
    "AuditStats",
    "AuditTrail",
    "ChainStore",
    "Checkpoint",
    "DirectoryWitness",
    "ExportSummary",
    "Finding",
    "FindingKind",
    "KeyPairFiles",
    "ModelCount",
    "PhaseCount",
    "ProofCheck",
    "PublishedHead",
    "Verdict",
    "VerificationReport",
    "Witness",
    "WitnessCheck",
    "check_against_witness",
    "export_bundle",
    "generate_key_pair",
    "key_id",
    "load_public_key",
    "load_signing_key",
    "policy_event",
    "prove_consistency",
    "prove_inclusion",
    "records_for_case",
    "stats",
    "trusted_keys",
    "verify_bundle",
    "verify_proof",
    "verify_store",
]
