"""Reading a chain in a database: verify it, show one case's records, summarise it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text

from phaseroute.audit._keys import key_id
from phaseroute.audit._snapshot import StoredRecord
from phaseroute.audit._store import ChainStore
from phaseroute.audit._verify import VerificationReport, verify_chain


def trusted_keys(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id, as `verify` expects them."""
    return {key_id(k): k for k in keys}


def verify_store(
    store: ChainStore,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    allow_uncovered: bool = False,
    check_content: bool = True,
    keep_leaves: bool = False,
) -> VerificationReport:
    """Verify the whole chain in one consistent read of the database (`keep_leaves`: keep
    the RFC 9162 leaf hashes, for consistency proofs against a witness)."""
    with store.snapshot() as snap:
        head = snap.head()
        return verify_chain(
            snap.records(),
            snap.checkpoints(),
            trusted=trusted,
            chain_id=head.chain_id,
            head_seq=head.last_seq,
            allow_uncovered=allow_uncovered,
            check_content=check_content,
            keep_leaves=keep_leaves,
        )


@dataclass(frozen=True)
class AuditRecord:
    """One stored record for display: the chained fields and, if kept, its content."""

    seq: int
    hash: str
    prev_hash: str
    fields: Mapping[str, Any]  # the canonical body, read-only
    content: str  # "stored", "erased", "redacted" or "missing"
    request: Any | None
    response: str | None

    @classmethod
    def from_stored(cls, rec: StoredRecord) -> AuditRecord:
        fields = json.loads(rec.body)
        if rec.has_content and rec.erased_at is None:
            state = "stored"
        elif rec.has_content:
            state = "erased"
        else:
            state = "redacted" if fields.get("redacted") is True else "missing"
        request = json.loads(rec.request) if rec.request is not None else None
        return cls(
            rec.seq,
            rec.hash,
            rec.prev_hash,
            MappingProxyType(fields),
            state,
            request,
            rec.response,
        )


def _json_field(dialect: str, name: str) -> str:
    if dialect == "postgresql":
        return f"((r.body::jsonb) ->> '{name}')"
    return f"json_extract(r.body, '$.{name}')"


def records_for_case(store: ChainStore, case_id: str) -> list[AuditRecord]:
    """Every record of one case or correlation id, in chain order."""
    with store.snapshot() as snap:
        return [AuditRecord.from_stored(r) for r in snap.records(case_id)]


@dataclass(frozen=True)
class PhaseCount:
    workflow: str
    phase: str
    records: int


@dataclass(frozen=True)
class ModelCount:
    model_requested: str
    model_reported: str | None
    records: int


@dataclass(frozen=True)
class AuditStats:
    """A summary of the chain: size, coverage by checkpoints, what was recorded."""

    chain_id: str
    created_at: str
    records: int
    head_seq: int
    checkpoints: int
    last_checkpoint_seq: int
    last_checkpoint_at: str | None
    first_recorded_at: str | None
    last_recorded_at: str | None
    erased: int
    redacted: int
    degraded: int
    total_cost: Decimal
    by_phase: tuple[PhaseCount, ...]
    by_model: tuple[ModelCount, ...]

    @property
    def uncovered(self) -> int:
        return self.head_seq - self.last_checkpoint_seq


def stats(store: ChainStore) -> AuditStats:
    """Counts by phase and model, coverage, erasures and total cost."""

    def f(name: str) -> str:
        return _json_field(store.dialect, name)

    with store.snapshot() as snap:
        conn = snap.conn
        head = snap.head()
        records = snap.count()
        cps = conn.execute(text("SELECT COUNT(*), MAX(signed_at) FROM audit_checkpoints")).one()
        first, last = conn.execute(
            text(
                f"SELECT (SELECT {f('recorded_at')} FROM audit_records r ORDER BY seq LIMIT 1),"
                f" (SELECT {f('recorded_at')} FROM audit_records r ORDER BY seq DESC LIMIT 1)"
            )
        ).one()
        erased = conn.execute(
            text("SELECT COUNT(*) FROM audit_content WHERE erased_at IS NOT NULL")
        ).scalar_one()
        true = "'true'" if store.dialect == "postgresql" else "1"
        redacted, degraded = conn.execute(
            text(
                f"SELECT COALESCE(SUM(CASE WHEN {f('redacted')} = {true} THEN 1 ELSE 0 END), 0),"
                f" COALESCE(SUM(CASE WHEN {f('degraded')} = {true} THEN 1 ELSE 0 END), 0)"
                " FROM audit_records r"
            )
        ).one()
        by_phase = tuple(
            PhaseCount(w, p, n)
            for w, p, n in conn.execute(
                text(
                    f"SELECT {f('workflow')} AS w, {f('phase')} AS p, COUNT(*) FROM audit_records"
                    f" r WHERE {f('workflow')} IS NOT NULL GROUP BY w, p ORDER BY w, p"
                )
            )
        )
        by_model = tuple(
            ModelCount(a, b, n)
            for a, b, n in conn.execute(
                text(
                    f"SELECT {f('model_requested')} AS a, {f('model_reported')} AS b, COUNT(*)"
                    f" FROM audit_records r WHERE {f('model_requested')} IS NOT NULL"
                    " GROUP BY a, b ORDER BY a, b"
                )
            )
        )
        total = Decimal(0)
        for (cost,) in conn.execute(
            text(f"SELECT {f('cost')} FROM audit_records r WHERE {f('cost')} IS NOT NULL")
        ):
            try:
                total += Decimal(str(cost))
            except InvalidOperation:
                continue  # verify reports a tampered body; stats only sums what parses
    return AuditStats(
        chain_id=head.chain_id,
        created_at=head.created_at,
        records=records,
        head_seq=head.last_seq,
        checkpoints=int(cps[0]),
        last_checkpoint_seq=head.checkpoint_seq,
        last_checkpoint_at=cps[1],
        first_recorded_at=first,
        last_recorded_at=last,
        erased=int(erased),
        redacted=int(redacted),
        degraded=int(degraded),
        total_cost=total,
        by_phase=by_phase,
        by_model=by_model,
    )
