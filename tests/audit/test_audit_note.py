"""Signed tree heads as C2SP signed notes: the Go reference vector, round trips, malformed notes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from phaseroute.audit._note import (
    NoteError,
    TreeHead,
    note_key_id,
    origin_for,
    parse_note,
    sign_head,
    sign_text,
)

GO = json.loads((Path(__file__).parent / "data" / "signed_note_vectors.json").read_text("utf-8"))


def test_the_go_reference_vector_is_reproduced_byte_for_byte() -> None:
    # signer key: PRIVATE+KEY+<name>+<hash>+base64(0x01 || 32-byte seed)
    seed = base64.b64decode(GO["signer_key"].split("+", 4)[4])[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    name, kid_hex, pub = GO["verifier_key"].split("+")
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub)[1:])
    assert note_key_id(name, public).hex() == kid_hex
    assert sign_text(GO["text"], name, key) == GO["note"]


def test_a_signed_head_round_trips_and_verifies_only_with_its_key() -> None:
    key = Ed25519PrivateKey.generate()
    head = TreeHead(origin_for("0c6f..chain"), 1234, bytes(range(32)))
    text = sign_head(head, key)
    lines = text.split("\n")
    assert lines[:4] == [head.origin, "1234", base64.b64encode(bytes(range(32))).decode(), ""]
    assert lines[4].startswith("\u2014 " + head.origin + " ")
    note = parse_note(text)
    assert note.head == head
    assert note.verify(key.public_key())
    assert not note.verify(Ed25519PrivateKey.generate().public_key())
    forged = text.replace("\n1234\n", "\n1235\n")
    assert not parse_note(forged).verify(key.public_key())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("origin\n12\nAAAA\n", "no blank line"),
        ("origin\n12\n\n\u2014 k AAAAAAAA\n", "needs an origin"),
        ("origin\n1x\n" + "A" * 43 + "=\n\n\u2014 k AAAAAAAA\n", "not a decimal"),
        ("origin\n012\n" + "A" * 43 + "=\n\n\u2014 k AAAAAAAA\n", "not a decimal"),
        ("origin\n12\n!!!!\n\n\u2014 k AAAAAAAA\n", "not base64"),
        ("origin\n12\nAAAA\n\n\u2014 k AAAAAAAA\n", "not 32"),
        ("origin\n12\n" + "A" * 43 + "=\n\n- k AAAAAAAA\n", "em dash"),
        ("origin\n12\n" + "A" * 43 + "=\n\n", "no signature"),
        ("origin\n12\n" + "A" * 43 + "=\next\n\n\u2014 k AAAAAAAA\n", "extension lines"),
        ("origin\r\n12\n" + "A" * 43 + "=\n\n\u2014 k AAAAAAAA\n", "control characters"),
    ],
)
def test_malformed_notes_are_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_note(text)
