"""Signed tree heads as C2SP signed notes in the tlog-checkpoint form.

A checkpoint note is::

    phaseroute.audit/<chain id>          origin: which log
    1234                                 tree size (number of records)
    <base64 RFC 9162 root hash>
                                         a blank line ends the signed text
    — phaseroute.audit/<chain id> <base64(4-byte key id || Ed25519 signature)>

The signature covers the text up to and including the root line's newline
(c2sp.org/signed-note, c2sp.org/tlog-checkpoint). The note's key id is
``SHA-256(key name || 0x0A || 0x01 || raw public key)[:4]``, as the signed-note spec
recommends for Ed25519; the key is named by the origin, so one key can sign several chains.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ORIGIN_PREFIX = "phaseroute.audit/"
_DASH = "\u2014 "


class NoteError(ValueError):
    """A note that cannot be parsed (its text says why)."""


def origin_for(chain_id: str) -> str:
    return ORIGIN_PREFIX + chain_id


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key id of an Ed25519 key under `name`."""
    return hashlib.sha256(name.encode() + b"\n\x01" + _raw(public_key)).digest()[:4]


@dataclass(frozen=True)
class TreeHead:
    """The signed statement: the log `origin` had `size` records with this Merkle `root`."""

    origin: str
    size: int
    root: bytes

    @property
    def chain_id(self) -> str:
        return self.origin.removeprefix(ORIGIN_PREFIX)

    def text(self) -> str:
        """The signed note text (tlog-checkpoint body)."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    """A tree head with its signature lines, as parsed from a note."""

    head: TreeHead
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, 4-byte key id, signature)
    text: str  # the whole note as written

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        """True if a signature line of this note verifies with `public_key`."""
        name = self.head.origin
        kid = note_key_id(name, public_key)
        message = self.head.text().encode()
        for sig_name, sig_kid, sig in self.signatures:
            if sig_name != name or sig_kid != kid:
                continue
            try:
                public_key.verify(sig, message)
            except InvalidSignature:
                return False
            return True
        return False


def sign_text(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """A C2SP signed note: `text` (ending in a newline), a blank line, one signature line."""
    sig = key.sign(text.encode())
    kid = note_key_id(name, key.public_key())
    return f"{text}\n{_DASH}{name} {base64.b64encode(kid + sig).decode()}\n"


def sign_head(head: TreeHead, key: Ed25519PrivateKey) -> str:
    """The complete signed note for `head`, signed by `key` under the origin's name."""
    return sign_text(head.text(), head.origin, key)


def parse_note(text: str) -> SignedNote:
    """Parse a tlog-checkpoint signed note; raises NoteError naming what is malformed."""
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a signed note must not contain control characters")
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise NoteError("no blank line between the note text and its signatures")
    lines = body.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint needs an origin, a tree size and a root hash line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("the origin line is empty")
    if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
        raise NoteError(f"tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"root hash {root_text!r} is not base64") from None
    if len(root) != 32:
        raise NoteError(f"root hash is {len(root)} bytes, not 32")
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in sigs.split("\n"):
        if not line:
            continue
        if not line.startswith(_DASH):
            raise NoteError(f"signature line {line[:40]!r} does not start with an em dash")
        name, _, b64 = line[len(_DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"signature of {name!r} is not base64") from None
        if len(raw) < 5:
            raise NoteError(f"signature of {name!r} is too short")
        signatures.append((name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("the note carries no signature")
    head = TreeHead(origin, int(size_text), root)
    if body + "\n" != head.text():
        # Extension lines are allowed by tlog-checkpoint, but this log writes none, and
        # a verifier must sign-check exactly the text it parsed.
        raise NoteError("the note has extension lines this log never writes")
    return SignedNote(head, tuple(signatures), text)
