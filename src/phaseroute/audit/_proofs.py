"""Proof bundles: one record, or one log growing into another, proven with a public key alone.

An *inclusion proof* file holds a record (its canonical body, seq, prev_hash, hash and, if
still stored, its content), the RFC 9162 inclusion path of its leaf, and the signed tree head
(a C2SP signed note) it is proven against. A *consistency proof* file holds two signed heads
and the RFC 9162 consistency path between them. `verify_proof` checks either with nothing but
the file and the operator's public key: no database, no phaseroute chain.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phaseroute.audit._codec import link_hash, sha256_hex
from phaseroute.audit._merkle import (
    consistency_proof,
    inclusion_path,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from phaseroute.audit._note import NoteError, SignedNote, origin_for, parse_note
from phaseroute.audit._snapshot import Checkpoint
from phaseroute.audit._store import ChainStore
from phaseroute.errors import RequestError, StorageError

INCLUSION_FORMAT = "phaseroute.audit.inclusion-proof/1"
CONSISTENCY_FORMAT = "phaseroute.audit.consistency-proof/1"


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _signed_heads(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    return [cp for cp in checkpoints if cp.note is not None and cp.root_hash is not None]


def prove_inclusion(store: ChainStore, seq: int, *, tree_size: int | None = None) -> dict[str, Any]:
    """The inclusion proof of record `seq` against the newest signed head that covers it
    (or the signed head of exactly `tree_size` records)."""
    with store.snapshot() as snap:
        chain_id = snap.head().chain_id
        heads = [cp for cp in _signed_heads(snap.checkpoints()) if cp.seq >= seq]
        if tree_size is not None:
            heads = [cp for cp in heads if cp.seq == tree_size]
        if not heads:
            raise RequestError(
                f"no signed tree head covers record {seq}"
                + (f" at size {tree_size}" if tree_size is not None else "")
                + " — sign the head first (`phaseroute audit checkpoint --key ...`), or name "
                "a record the last checkpoint covers"
            )
        head = heads[-1]
        rec = snap.record(seq)
        if rec is None or seq < 1:
            raise RequestError(f"there is no record {seq} in this trail")
        path = inclusion_path(seq - 1, head.seq, snap.tree())
    leaf = leaf_hash(bytes.fromhex(rec.hash))
    if not verify_inclusion(leaf, seq - 1, head.seq, path, bytes.fromhex(head.root_hash or "")):
        raise StorageError(
            f"the stored tree does not prove record {seq} under the signed head of size "
            f"{head.seq}: the database is damaged — run `phaseroute audit verify`"
        )
    doc: dict[str, Any] = {
        "format": INCLUSION_FORMAT,
        "chain_id": chain_id,
        "record": {"seq": rec.seq, "prev_hash": rec.prev_hash, "hash": rec.hash, "body": rec.body},
        "leaf_index": seq - 1,
        "tree_size": head.seq,
        "inclusion_path": [_b64(p) for p in path],
        "checkpoint": head.note,
        "leaf": "RFC 9162 leaf = SHA-256(0x00 || 32-byte record hash); record hash = "
        'SHA-256(JCS({"body_sha256": SHA-256(body), "prev_hash", "seq"}))',
    }
    if rec.has_content and rec.erased_at is None:
        doc["content"] = {"request": rec.request, "response": rec.response}
    return doc


def prove_consistency(store: ChainStore, first: int, second: int) -> dict[str, Any]:
    """The consistency proof between the signed heads of `first` and `second` records."""
    if not 0 < first <= second:
        raise RequestError(
            f"--consistency A B needs 0 < A <= B (tree sizes of two signed heads), got {first} "
            f"{second}"
        )
    with store.snapshot() as snap:
        chain_id = snap.head().chain_id
        by_size = {cp.seq: cp for cp in _signed_heads(snap.checkpoints())}
        missing = [n for n in (first, second) if n not in by_size]
        if missing:
            sizes = ", ".join(str(n) for n in sorted(by_size)[-12:]) or "none"
            raise RequestError(
                f"no signed tree head of size {', '.join(map(str, missing))} — name sizes that "
                f"checkpoints signed (the latest: {sizes})"
            )
        path = consistency_proof(first, second, snap.tree())
    return {
        "format": CONSISTENCY_FORMAT,
        "chain_id": chain_id,
        "first": by_size[first].note,
        "second": by_size[second].note,
        "consistency_path": [_b64(p) for p in path],
    }


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of `verify_proof`: ok, and one line of explanation per check made."""

    ok: bool
    kind: str  # "inclusion" or "consistency"
    lines: tuple[str, ...]


class _Bad(Exception):
    pass


def verify_proof(doc: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]) -> ProofCheck:
    """Check a proof file's contents against trusted public keys (by key id)."""
    kind = "inclusion" if doc.get("format") == INCLUSION_FORMAT else "consistency"
    lines: list[str] = []
    try:
        if doc.get("format") == INCLUSION_FORMAT:
            _verify_inclusion_doc(doc, trusted, lines)
        elif doc.get("format") == CONSISTENCY_FORMAT:
            _verify_consistency_doc(doc, trusted, lines)
        else:
            raise _Bad(
                f"not a proof file: format is {doc.get('format')!r}, expected "
                f"{INCLUSION_FORMAT} or {CONSISTENCY_FORMAT}"
            )
    except _Bad as e:
        return ProofCheck(False, kind, (*lines, str(e)))
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        return ProofCheck(False, kind, (*lines, f"the proof file is malformed: {e!r}"))
    return ProofCheck(True, kind, tuple(lines))


def _signed(text: Any, chain_id: str, trusted: Mapping[str, Ed25519PublicKey]) -> SignedNote:
    try:
        note = parse_note(str(text))
    except NoteError as e:
        raise _Bad(f"the signed tree head is malformed: {e}") from None
    if note.head.origin != origin_for(chain_id):
        raise _Bad(f"the signed head is for log {note.head.origin!r}, not chain {chain_id}")
    signers = [kid for kid, key in trusted.items() if note.verify(key)]
    if not signers:
        raise _Bad(
            "the signed tree head does not verify with the trusted key(s) "
            + (", ".join(sorted(trusted)) or "(none given)")
            + " — altered, or signed by another key"
        )
    return note


def _path(values: Any) -> list[bytes]:
    out = [base64.b64decode(v, validate=True) for v in values]
    if any(len(p) != 32 for p in out):
        raise _Bad("a proof hash is not 32 bytes")
    return out


def _verify_inclusion_doc(
    doc: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey], lines: list[str]
) -> None:
    chain_id = str(doc["chain_id"])
    note = _signed(doc["checkpoint"], chain_id, trusted)
    lines.append(
        f"signed tree head: {note.head.size} records of log {note.head.origin}, signature valid"
    )
    rec = doc["record"]
    seq, body = int(rec["seq"]), str(rec["body"])
    own = link_hash(seq, str(rec["prev_hash"]), sha256_hex(body))
    if own != rec["hash"]:
        raise _Bad(f"record {seq} does not match its hash: the record in the file was altered")
    index, size = int(doc["leaf_index"]), int(doc["tree_size"])
    if index != seq - 1:
        raise _Bad(f"leaf index {index} is not the position of record {seq} ({seq - 1})")
    if size != note.head.size:
        raise _Bad(f"tree size {size} differs from the signed head's {note.head.size}")
    path = _path(doc["inclusion_path"])
    leaf = leaf_hash(bytes.fromhex(own))
    if not verify_inclusion(leaf, index, size, path, note.head.root):
        raise _Bad(
            f"the inclusion path does not lead from record {seq} to the signed root: the "
            "record is not in the signed log (or the proof was altered)"
        )
    fields = json.loads(body)
    lines.append(
        f"record {seq} is included (RFC 9162 inclusion proof, {len(path)} hashes): case "
        f"{fields.get('case_id')}, {fields.get('workflow')}/{fields.get('phase')}, recorded "
        f"{fields.get('recorded_at')}"
    )
    content = doc.get("content")
    if content is not None:
        for what in ("request", "response"):
            text = content.get(what)
            if text is None or sha256_hex(text) != fields.get(f"{what}_sha256"):
                raise _Bad(f"the {what} text in the file does not match record {seq}'s digest")
        lines.append("request and response text match the record's digests")


def _verify_consistency_doc(
    doc: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey], lines: list[str]
) -> None:
    chain_id = str(doc["chain_id"])
    first = _signed(doc["first"], chain_id, trusted)
    second = _signed(doc["second"], chain_id, trusted)
    lines.append(
        f"signed tree heads of {first.head.size} and {second.head.size} records, signatures valid"
    )
    path = _path(doc["consistency_path"])
    a, b = first.head, second.head
    if not verify_consistency(a.size, b.size, a.root, b.root, path):
        raise _Bad(
            f"the log of {b.size} records does not extend the log of {a.size} records (or the "
            "proof was altered)"
        )
    lines.append(
        f"the log of {b.size} records extends the log of {a.size} records (RFC 9162 "
        f"consistency proof, {len(path)} hashes): nothing signed at {a.size} was changed or "
        "removed"
    )
