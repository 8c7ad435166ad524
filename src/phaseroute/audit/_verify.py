"""Verification: walk the chain, check every link and checkpoint, and name the first problem.

The same walk serves a live database and an exported bundle. A broken link is diagnosed
by finding where the record really belongs (its hash commits to its sequence number), which
tells an altered record from one that was moved, inserted before, or left behind by a deletion.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phaseroute.audit._codec import ERASURE_MARK, GENESIS_HASH, link_hash, sha256_hex
from phaseroute.audit._keys import key_id
from phaseroute.audit._merkle import CompactRange
from phaseroute.audit._note import NoteError, TreeHead, origin_for, parse_note
from phaseroute.audit._snapshot import Checkpoint, StoredRecord


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
    CONTENT_MISSING = "content missing without an erasure record"
    UNTRUSTED_KEY = "signed by an untrusted key"
    TRUNCATED = "truncated or rolled back"


class Verdict(StrEnum):
    """The one-word outcome of a verification; each has its own exit code and headline."""

    INTACT = "intact"
    TAMPERED = "tampered"
    TRUNCATED = "truncated"
    UNTRUSTED_KEY = "untrusted key"
    UNSIGNED_TAIL = "unsigned tail"

    @property
    def exit_code(self) -> int:
        """0 intact; 1 tampered (the README's "a check failed"); 2 and 3 stay the CLI's usage
        and run-time codes; 4 untrusted key; 5 unsigned tail; 6 truncated or rolled back."""
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Verdict.INTACT: 0,
    Verdict.TAMPERED: 1,
    Verdict.UNTRUSTED_KEY: 4,
    Verdict.UNSIGNED_TAIL: 5,
    Verdict.TRUNCATED: 6,
}
# Findings that do not, on their own, say the trail was tampered with.
_NOT_TAMPERING = frozenset(
    {FindingKind.UNTRUSTED_KEY, FindingKind.UNCOVERED, FindingKind.TRUNCATED}
)


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
    erasures: int = 0  # erasure records in the chain
    tree_root: str | None = None  # RFC 9162 root over all records walked (if computed)
    leaves: tuple[bytes, ...] = field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def verdict(self) -> Verdict:
        """Tampering outranks truncation, which outranks an untrusted key, which outranks
        an unsigned tail: the headline names the most serious thing found."""
        kinds = {f.kind for f in self.findings}
        if kinds - _NOT_TAMPERING:
            return Verdict.TAMPERED
        if FindingKind.TRUNCATED in kinds:
            return Verdict.TRUNCATED
        if FindingKind.UNTRUSTED_KEY in kinds:
            return Verdict.UNTRUSTED_KEY
        if FindingKind.UNCOVERED in kinds:
            return Verdict.UNSIGNED_TAIL
        return Verdict.INTACT

    @property
    def headline_finding(self) -> Finding | None:
        """The first finding of the kind the verdict is about."""
        verdict = self.verdict
        for f in self.findings:
            if verdict is Verdict.TAMPERED and f.kind not in _NOT_TAMPERING:
                return f
            if verdict is Verdict.TRUNCATED and f.kind is FindingKind.TRUNCATED:
                return f
            if verdict is Verdict.UNTRUSTED_KEY and f.kind is FindingKind.UNTRUSTED_KEY:
                return f
            if verdict is Verdict.UNSIGNED_TAIL and f.kind is FindingKind.UNCOVERED:
                return f
        return None

    def with_findings(
        self, extra: Sequence[Finding], notes: Sequence[str] = ()
    ) -> VerificationReport:
        """This report with more findings (kept sorted) and notes."""
        return replace(
            self,
            findings=tuple(sorted([*self.findings, *extra], key=finding_order)),
            notes=(*self.notes, *notes),
        )


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
    erasures: int = 0
    unexplained: dict[int, str] = field(default_factory=dict)  # seq -> "erased" / "missing"
    tree: CompactRange | None = None
    leaves: list[bytes] | None = None


def finding_order(f: Finding) -> tuple[int, bool]:
    """By sequence number; at one seq, a chain problem explains a content mismatch."""
    return (f.seq, f.kind is FindingKind.CONTENT_ALTERED)


def check_signatures(
    checkpoints: Sequence[Checkpoint],
    trusted: Mapping[str, Ed25519PublicKey],
    chain_id: str | None,
) -> tuple[list[Checkpoint], list[Finding]]:
    """The checkpoints whose signatures verify, and findings for the rest.

    A checkpoint signed by a key that is not trusted but whose signature verifies with the
    public key it names is returned too, with one UNTRUSTED_KEY finding per such key: the
    chain can still be checked against it, and the verdict says whose key signed it.
    """
    good: list[Checkpoint] = []
    bad: list[Finding] = []
    untrusted: dict[str, list[int]] = {}
    for cp in checkpoints:
        key = trusted.get(cp.key_id)
        own = _named_key(cp)
        if key is None and own is None:
            bad.append(
                Finding(
                    FindingKind.BAD_SIGNATURE,
                    cp.seq,
                    f"checkpoint at seq {cp.seq} names key {cp.key_id} but carries no valid "
                    "public key for it (the checkpoint was altered or forged)",
                )
            )
            continue
        problem = _signature_problem(cp, key or own)  # type: ignore[arg-type]
        if problem is not None:
            bad.append(Finding(FindingKind.BAD_SIGNATURE, cp.seq, problem))
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
        if key is None:
            untrusted.setdefault(cp.key_id, []).append(cp.seq)
        good.append(cp)
    for kid, seqs in untrusted.items():
        trusted_ids = ", ".join(sorted(trusted)) or "none"
        bad.append(
            Finding(
                FindingKind.UNTRUSTED_KEY,
                seqs[0],
                f"{len(seqs)} checkpoint(s) from seq {seqs[0]} to {seqs[-1]} are validly signed "
                f"by key {kid}, which is not a trusted key (trusted: {trusted_ids}) — pass "
                "that key's public key if it is yours (a rotated key), else the chain was "
                "re-signed by someone else",
            )
        )
    return good, bad


def _named_key(cp: Checkpoint) -> Ed25519PublicKey | None:
    """The public key a checkpoint carries, if it is well-formed and matches its key id."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
    except ValueError:
        return None
    return key if key_id(key) == cp.key_id else None


def _signature_problem(cp: Checkpoint, key: Ed25519PublicKey) -> str | None:
    """Why `cp` does not verify with `key` (None: it does): the JCS signature, and for a
    version 2 checkpoint also its signed note, which must state the same tree head."""
    try:
        key.verify(bytes.fromhex(cp.signature), cp.payload())
    except (InvalidSignature, ValueError):
        return (
            f"checkpoint at seq {cp.seq}: the Ed25519 signature does not verify with key "
            f"{cp.key_id} (the checkpoint was altered or forged)"
        )
    if cp.root_hash is None:
        return None
    try:
        note = parse_note(cp.note or "")
    except NoteError as e:
        return f"checkpoint at seq {cp.seq}: its signed note is malformed ({e})"
    expected = TreeHead(origin_for(cp.chain_id), cp.seq, bytes.fromhex(cp.root_hash))
    if note.head != expected or not note.verify(key):
        return (
            f"checkpoint at seq {cp.seq}: its signed note does not state this tree head or "
            f"does not verify with key {cp.key_id} (the note was altered)"
        )
    return None


def verify_chain(
    records: Iterable[StoredRecord],
    checkpoints: Sequence[Checkpoint],
    *,
    trusted: Mapping[str, Ed25519PublicKey],
    chain_id: str | None,
    head_seq: int | None,
    allow_uncovered: bool = False,
    check_content: bool = True,
    keep_leaves: bool = False,
) -> VerificationReport:
    """Verify `records` (in seq order) against signed `checkpoints` and trusted keys.

    `head_seq` is the chain length the store claims (None if it claims nothing). The RFC
    9162 tree is rebuilt as the records are walked and checked against every version 2
    checkpoint's root; `keep_leaves` keeps its leaf hashes (for witness consistency proofs).
    """
    good, findings = check_signatures(checkpoints, trusted, chain_id)
    signed = {cp.seq: cp for cp in good}
    search_limit = max([head_seq or 0, *(cp.seq for cp in checkpoints)]) + 2
    walk = _Walk(findings=findings)
    if keep_leaves or any(cp.root_hash is not None for cp in good):
        walk.tree = CompactRange()
        walk.leaves = [] if keep_leaves else None
    chain_broken = _walk(iter(records), signed, walk, search_limit, check_content)
    notes: list[str] = []
    if not chain_broken:
        _check_tail(walk, good, head_seq, allow_uncovered, notes)
        _check_erasures(walk)
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
        erasures=walk.erasures,
        tree_root=None if walk.tree is None or chain_broken else walk.tree.root().hex(),
        leaves=tuple(walk.leaves or ()),
    )


def _walk(
    rows: Iterator[StoredRecord],
    signed: Mapping[int, Checkpoint],
    walk: _Walk,
    search_limit: int,
    check_content: bool,
) -> bool:
    """Check every link; return True if the chain broke (a finding was added).

    Record hashes wait in `pending` and enter the Merkle tree in one tight loop at each
    signed tree head (and at the end), rather than one method call per record.
    """
    pending: list[str] = []
    try:
        return _walk_rows(rows, signed, walk, search_limit, check_content, pending)
    finally:
        if walk.tree is not None and pending:
            walk.tree.extend_hex(pending, leaves=walk.leaves)


def _walk_rows(
    rows: Iterator[StoredRecord],
    signed: Mapping[int, Checkpoint],
    walk: _Walk,
    search_limit: int,
    check_content: bool,
    pending: list[str],
) -> bool:
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
        if walk.tree is not None:
            pending.append(rec.hash)
            if cp is not None and cp.root_hash is not None:
                walk.tree.extend_hex(pending, leaves=walk.leaves)
                pending.clear()
        if cp is not None:
            if cp.head_hash != rec.hash or (
                walk.tree is not None
                and cp.root_hash is not None
                and walk.tree.root().hex() != cp.root_hash
            ):
                walk.findings.append(
                    Finding(
                        FindingKind.REWRITTEN,
                        walk.covered + 1,
                        f"records {walk.covered + 1}..{rec.seq} were rewritten: record "
                        f"{rec.seq}'s hash (or the tree root over records 1..{rec.seq}) "
                        "differs from the one signed in its checkpoint",
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
        walk.unexplained[rec.seq] = "erased"
        return
    if not rec.has_content:
        if ERASURE_MARK in rec.body:
            _erasure_record(rec, walk)
        elif json.loads(rec.body).get("redacted") is True:
            walk.redacted += 1
        else:
            walk.content_missing += 1
            walk.unexplained[rec.seq] = "missing"
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
            "record (content was changed; an erasure blanks it and chains an erasure record)",
        )
    )


def _erasure_record(rec: StoredRecord, walk: _Walk) -> None:
    """An authenticated erasure record explains the missing content of earlier records."""
    walk.erasures += 1
    for seq in json.loads(rec.body).get("erases", []):
        if isinstance(seq, int) and seq < rec.seq:
            walk.unexplained.pop(seq, None)


def _check_erasures(walk: _Walk) -> None:
    """Content erased or missing with no later erasure record naming it is tampering."""
    for seq, state in sorted(walk.unexplained.items()):
        how = "was erased" if state == "erased" else "is missing"
        walk.findings.append(
            Finding(
                FindingKind.CONTENT_MISSING,
                seq,
                f"the content of record {seq} {how}, but no erasure record in the chain "
                "names it (an erasure appends one: `phaseroute audit erase`)",
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
