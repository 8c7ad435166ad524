"""Verification: walk the chain, check every link and checkpoint, and name the first problem.

The same walk serves a live database and an exported bundle. A broken link is diagnosed
by finding where the record really belongs (its hash commits to its sequence number), which
tells an altered record from one that was moved, inserted before, or left behind by a deletion.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phaseroute.audit._codec import GENESIS_HASH, link_hash, sha256_hex
from phaseroute.audit._store import Checkpoint, StoredRecord


class FindingKind(StrEnum):
    """What verification found wrong; the CLI prints these words."""

    ALTERED = "altered"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    REWRITTEN = "rewritten"
    BAD_SIGNATURE = "bad checkpoint signature"
    UNCOVERED = "head not covered by a checkpoint"
    CONTENT_ALTERED = "content altered"


@dataclass(frozen=True)
class Finding:
    """One problem, at the first sequence number it affects."""

    kind: FindingKind
    seq: int
    message: str

    def render(self) -> str:
        return f"seq {self.seq}: {self.kind.value} — {self.message}"


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of `verify`: counts, the head, and every problem found (sorted by seq)."""

    chain_id: str | None
    records: int
    checkpoints: int
    head_seq: int
    head_hash: str
    covered_seq: int
    findings: tuple[Finding, ...]
    erased: int = 0
    redacted: int = 0
    content_missing: int = 0
    trusted_keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> Finding | None:
        return self.findings[0] if self.findings else None


@dataclass
class _Walk:
    """Mutable state of one verification walk (local to a `verify_chain` call)."""

    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    erased: int = 0
    redacted: int = 0
    content_missing: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    covered: int = 0


def finding_order(f: Finding) -> tuple[int, bool]:
    """By sequence number; at one seq, a chain problem explains a content mismatch."""
    return (f.seq, f.kind is FindingKind.CONTENT_ALTERED)


def check_signatures(
    checkpoints: Sequence[Checkpoint],
    trusted: Mapping[str, Ed25519PublicKey],
    chain_id: str | None,
) -> tuple[list[Checkpoint], list[Finding]]:
    """The checkpoints whose signature verifies with a trusted key, and findings for the rest."""
    good: list[Checkpoint] = []
    bad: list[Finding] = []
    for cp in checkpoints:
        key = trusted.get(cp.key_id)
        if key is None:
            bad.append(
                Finding(
                    FindingKind.BAD_SIGNATURE,
                    cp.seq,
                    f"checkpoint at seq {cp.seq} is signed by key {cp.key_id}, which is not a "
                    "trusted key (a re-signed chain, or pass that key's public key)",
                )
            )
            continue
        try:
            key.verify(bytes.fromhex(cp.signature), cp.payload())
        except (InvalidSignature, ValueError):
            bad.append(
                Finding(
                    FindingKind.BAD_SIGNATURE,
                    cp.seq,
                    f"checkpoint at seq {cp.seq}: the Ed25519 signature does not verify "
                    f"with key {cp.key_id} (the checkpoint was altered or forged)",
                )
            )
            continue
        if chain_id is not None and cp.chain_id != chain_id:
            bad.append(
                Finding(
                    FindingKind.BAD_SIGNATURE,
                    cp.seq,
                    f"checkpoint at seq {cp.seq} was signed for chain {cp.chain_id}, "
                    f"not this chain ({chain_id})",
                )
            )
            continue
        good.append(cp)
    return good, bad


def verify_chain(
    records: Iterable[StoredRecord],
    checkpoints: Sequence[Checkpoint],
    *,
    trusted: Mapping[str, Ed25519PublicKey],
    chain_id: str | None,
    head_seq: int | None,
    allow_uncovered: bool = False,
    check_content: bool = True,
) -> VerificationReport:
    """Verify `records` (in seq order) against signed `checkpoints` and trusted keys.

    `head_seq` is the chain length the store claims (None if it claims nothing).
    """
    good, findings = check_signatures(checkpoints, trusted, chain_id)
    signed = {cp.seq: cp for cp in good}
    search_limit = max([head_seq or 0, *(cp.seq for cp in checkpoints)]) + 2
    walk = _Walk(findings=findings)
    chain_broken = _walk(iter(records), signed, walk, search_limit, check_content)
    notes: list[str] = []
    if not chain_broken:
        _check_tail(walk, good, head_seq, allow_uncovered, notes)
    walk.findings.sort(key=finding_order)
    return VerificationReport(
        chain_id=chain_id,
        records=walk.records,
        checkpoints=len(checkpoints),
        head_seq=walk.last_seq,
        head_hash=walk.last_hash,
        covered_seq=walk.covered,
        findings=tuple(walk.findings),
        erased=walk.erased,
        redacted=walk.redacted,
        content_missing=walk.content_missing,
        trusted_keys=tuple(sorted(trusted)),
        notes=tuple(notes),
    )


def _walk(
    rows: Iterator[StoredRecord],
    signed: Mapping[int, Checkpoint],
    walk: _Walk,
    search_limit: int,
    check_content: bool,
) -> bool:
    """Check every link; return True if the chain broke (a finding was added)."""
    expected, prev = 1, GENESIS_HASH
    for rec in rows:
        walk.records += 1
        if rec.seq != expected:
            walk.findings.append(
                Finding(
                    FindingKind.MISSING,
                    expected,
                    f"records {expected}..{rec.seq - 1} are missing (the chain jumps from "
                    f"{expected - 1} to {rec.seq})",
                )
            )
            return True
        body_sha = sha256_hex(rec.body)
        if link_hash(rec.seq, rec.prev_hash, body_sha) != rec.hash:
            walk.findings.append(_diagnose(rec, body_sha, next(rows, None), search_limit))
            return True
        if rec.prev_hash != prev:
            bad = max(rec.seq - 1, 1)
            walk.findings.append(
                Finding(
                    FindingKind.ALTERED,
                    bad,
                    f"record {rec.seq} links to a predecessor hash that record {bad} no longer "
                    f"has: record {bad} was altered and re-hashed",
                    # rec.seq == 1: its prev_hash is not the genesis value
                )
            )
            return True
        cp = signed.get(rec.seq)
        if cp is not None:
            if cp.head_hash != rec.hash:
                walk.findings.append(
                    Finding(
                        FindingKind.REWRITTEN,
                        walk.covered + 1,
                        f"records {walk.covered + 1}..{rec.seq} were rewritten: record "
                        f"{rec.seq}'s hash differs from the one signed in its checkpoint",
                    )
                )
                return True
            walk.covered = rec.seq
        if check_content:
            _check_content(rec, walk)
        prev = rec.hash
        walk.last_seq, walk.last_hash = rec.seq, rec.hash
        expected += 1
    return False


def _check_tail(
    walk: _Walk,
    good: Sequence[Checkpoint],
    head_seq: int | None,
    allow_uncovered: bool,
    notes: list[str],
) -> None:
    last = walk.last_seq
    beyond = [cp.seq for cp in good if cp.seq > last]
    if beyond:
        walk.findings.append(
            Finding(
                FindingKind.MISSING,
                last + 1,
                f"a signed checkpoint covers records up to {max(beyond)} but the chain ends at "
                f"{last}: records {last + 1}..{max(beyond)} were removed",
            )
        )
        return
    if head_seq is not None and head_seq > last:
        walk.findings.append(
            Finding(
                FindingKind.MISSING,
                last + 1,
                f"the chain head says {head_seq} records but the chain ends at {last}",
            )
        )
        return
    if head_seq is not None and head_seq < last:
        walk.findings.append(
            Finding(
                FindingKind.INSERTED,
                head_seq + 1,
                f"records {head_seq + 1}..{last} sit past the chain head ({head_seq})",
            )
        )
        return
    if last > walk.covered:
        message = (
            f"records {walk.covered + 1}..{last} are chained but no signed checkpoint covers "
            "them yet, so they could be truncated undetected"
        )
        if allow_uncovered:
            notes.append(message)
        else:
            walk.findings.append(Finding(FindingKind.UNCOVERED, walk.covered + 1, message))


def _check_content(rec: StoredRecord, walk: _Walk) -> None:
    if rec.has_content and rec.erased_at is not None:
        walk.erased += 1
        return
    if not rec.has_content:
        if json.loads(rec.body).get("redacted") is True:
            walk.redacted += 1
        else:
            walk.content_missing += 1
        return
    if rec.request is None or sha256_hex(rec.request) != chained_digest(rec.body, "request"):
        what = "request"
    elif rec.response is None or sha256_hex(rec.response) != chained_digest(rec.body, "response"):
        what = "response"
    else:
        return
    walk.findings.append(
        Finding(
            FindingKind.CONTENT_ALTERED,
            rec.seq,
            f"the stored {what} of record {rec.seq} does not match the digest chained in the "
            "record (content was changed; an erasure would blank it and set erased_at)",
        )
    )


def chained_digest(body: str, what: str) -> str:
    """The `<what>_sha256` field of an authenticated record body, without parsing it all.

    Sound only after the body's hash has been checked: the body is then canonical JSON we
    wrote, keys are sorted, and no object after the top-level `request_sha256` key nests
    further objects, so the last occurrence of the key is the top-level field.
    """
    key = f'"{what}_sha256":"'
    at = body.rfind(key)
    return body[at + len(key) : at + len(key) + 64] if at >= 0 else ""


def original_seq(rec: StoredRecord, body_sha: str, search_limit: int) -> int | None:
    """The sequence number at which this record's stored hash is valid, if any."""
    seq: int = rec.seq
    candidates = itertools.chain((seq - 1, seq + 1), range(1, search_limit + 1))
    for s in candidates:
        if s >= 1 and s != seq and link_hash(s, rec.prev_hash, body_sha) == rec.hash:
            return int(s)
    return None


def _diagnose(
    rec: StoredRecord, body_sha: str, nxt: StoredRecord | None, search_limit: int
) -> Finding:
    orig = original_seq(rec, body_sha, search_limit)
    if orig is None:
        return Finding(
            FindingKind.ALTERED,
            rec.seq,
            f"record {rec.seq} does not match its hash: a field, its prev_hash or its hash "
            "was changed",
        )
    if orig < rec.seq:
        return Finding(
            FindingKind.INSERTED,
            orig,
            f"record {orig} now sits at seq {rec.seq}: {rec.seq - orig} forged record(s) were "
            f"inserted from seq {orig}",
        )
    if nxt is not None:
        nxt_sha = sha256_hex(nxt.body)
        nxt_intact = link_hash(nxt.seq, nxt.prev_hash, nxt_sha) == nxt.hash
        if nxt_intact or original_seq(nxt, nxt_sha, search_limit) == rec.seq:
            return Finding(
                FindingKind.REORDERED,
                rec.seq,
                f"seq {rec.seq} holds record {orig}: records were reordered",
            )
    return Finding(
        FindingKind.MISSING,
        rec.seq,
        f"seq {rec.seq} holds record {orig}: records {rec.seq}..{orig - 1} were deleted and "
        "the later ones renumbered",
    )
