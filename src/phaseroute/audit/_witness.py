"""Witnesses: signed tree heads held outside the database, and the check that the database
still extends every one of them.

An administrator who deletes the newest records *and* their checkpoints leaves an older,
genuinely signed chain that verifies on its own. A head published before the deletion, to a
place the administrator cannot rewrite, proves the log was once longer (truncation) or held
other records (rollback): the database must extend every published head, which an RFC 9162
consistency proof shows.

`Witness` is the interface: append a signed note, list the notes held. `DirectoryWitness`
is the shipped backend (append-only: new files only, fsync'd). An S3 bucket with object
lock, or a transparency-log witness that cosigns heads, is another class with the same two
methods.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phaseroute.audit._merkle import SubtreeSource, consistency_proof, verify_consistency
from phaseroute.audit._note import NoteError, origin_for, parse_note
from phaseroute.audit._verify import Finding, FindingKind, VerificationReport
from phaseroute.errors import Problem, StorageError, UserError


@dataclass(frozen=True)
class PublishedHead:
    """One signed note a witness holds, and where (a file, an object key, a URL)."""

    note: str
    where: str


class Witness(Protocol):
    """An append-only place outside the database that holds signed tree heads."""

    def describe(self) -> str:
        """Where the heads go, for messages."""
        ...

    def publish(self, note: str) -> bool:
        """Store one signed note durably; False if this exact note was already held.
        Must never overwrite or delete a note."""
        ...

    def heads(self) -> list[PublishedHead]:
        """Every note held (any chain), in no particular order."""
        ...


class DirectoryWitness:
    """Signed heads as files ``<dir>/<chain id>/<tree size>-<sha256 of note>.checkpoint``.

    Publishing writes a temporary file, fsyncs it, and hard-links it to its final name, which
    fails rather than replaces if the name exists; then fsyncs the directory. Nothing here
    ever rewrites or deletes a head. Put the directory where the database's administrators
    cannot write (another host, a WORM mount, a bucket synced with object lock).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def describe(self) -> str:
        return str(self.directory)

    def publish(self, note: str) -> bool:
        try:
            head = parse_note(note).head
        except NoteError as e:
            raise StorageError(f"refusing to publish a malformed signed note: {e}") from e
        folder = self.directory / head.chain_id
        digest = hashlib.sha256(note.encode()).hexdigest()[:16]
        final = folder / f"{head.size:020d}-{digest}.checkpoint"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if final.exists():
                return False
            tmp = folder / f".{final.name}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            try:
                os.write(fd, note.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            finally:
                tmp.unlink()
            _fsync_dir(folder)
            _fsync_dir(self.directory)
        except OSError as e:
            raise StorageError(
                f"could not publish the signed head to witness directory {self.directory}: "
                f"{e.strerror or e}"
            ) from e
        return True

    def heads(self) -> list[PublishedHead]:
        if not self.directory.is_dir():
            raise UserError(
                [
                    Problem(
                        "no witness directory here",
                        file=str(self.directory),
                        fix="pass the directory given to `phaseroute audit publish --to`",
                    )
                ]
            )
        out: list[PublishedHead] = []
        for path in sorted(self.directory.glob("*/*.checkpoint")):
            try:
                out.append(PublishedHead(path.read_text(encoding="utf-8"), str(path)))
            except (OSError, UnicodeDecodeError) as e:
                out.append(PublishedHead(f"unreadable: {e}", str(path)))
        return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class WitnessCheck:
    """What comparing a verified chain with a witness found."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...]
    heads_checked: int


def check_against_witness(
    report: VerificationReport,
    heads: Sequence[PublishedHead],
    trusted: Mapping[str, Ed25519PublicKey],
    where: str,
) -> WitnessCheck:
    """Prove that the chain `report` walked (with `keep_leaves`) extends every head the
    witness holds for its chain and that a trusted key signed."""
    chain_id = report.chain_id or ""
    origin = origin_for(chain_id)
    findings: list[Finding] = []
    notes: list[str] = []
    checked = 0
    other_chains: set[str] = set()
    size = report.head_seq
    if report.tree_root is None:
        return WitnessCheck(
            (), ("the chain is broken, so it was not compared with the witness",), 0
        )
    root = bytes.fromhex(report.tree_root)
    source = SubtreeSource(report.leaves)
    for published in heads:
        try:
            note = parse_note(published.note)
        except NoteError as e:
            notes.append(f"witness file {published.where} is not a signed note ({e}); ignored")
            continue
        if note.head.origin != origin:
            other_chains.add(note.head.origin)
            continue
        if not any(note.verify(k) for k in trusted.values()):
            notes.append(
                f"witness head {published.where} (size {note.head.size}) is not signed by a "
                "trusted key; ignored"
            )
            continue
        checked += 1
        first = note.head.size
        if first > size:
            findings.append(
                Finding(
                    FindingKind.TRUNCATED,
                    size + 1,
                    f"the witness holds a head signed for {first} records ({published.where}); "
                    f"the database has {size}: records {size + 1}..{first} were removed and "
                    "the head moved back (truncation)",
                )
            )
            continue
        proof = consistency_proof(first, size, source)
        if not verify_consistency(first, size, note.head.root, root, proof):
            findings.append(
                Finding(
                    FindingKind.TRUNCATED,
                    1,
                    f"the database does not extend the head the witness holds for {first} "
                    f"records ({published.where}): its first {first} records are not the ones "
                    "that were signed and published (rolled back and rewritten)",
                )
            )
    if checked == 0:
        if other_chains:
            findings.append(
                Finding(
                    FindingKind.TRUNCATED,
                    1,
                    f"the witness {where} holds heads of {len(other_chains)} other chain(s) but "
                    f"none of this chain ({chain_id}): the database may have been replaced by "
                    "a new chain, or this is the wrong witness",
                )
            )
        else:
            notes.append(f"the witness {where} holds no trusted head of this chain yet")
    elif not findings:
        notes.append(
            f"the chain extends all {checked} head(s) the witness {where} holds for it "
            "(RFC 9162 consistency proofs)"
        )
    else:
        notes.append(
            f"the chain does not extend {len(findings)} of the {checked} head(s) the witness "
            f"{where} holds for it"
        )
    return WitnessCheck(tuple(findings), tuple(notes), checked)
