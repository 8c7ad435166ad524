"""`audit prove` / `audit verify-proof`: one record, or one log extending another, proven with
the public key alone — and every tampered proof refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from phaseroute.audit import AuditTrail, prove_inclusion, trusted_keys, verify_proof
from phaseroute.audit._codec import link_hash, sha256_hex
from phaseroute.audit._keys import public_pem
from phaseroute.audit._merkle import SubtreeSource, inclusion_path, leaf_hash
from phaseroute.cli._app import run
from phaseroute.storage.database import open_engine


@pytest.fixture
def pub(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit.pub"
    path.write_bytes(public_pem(signing_key.public_key()))
    return path


@pytest.fixture
def trail30(location: str, signing_key: Ed25519PrivateKey) -> str:
    with AuditTrail.open(location, signing_key=signing_key, checkpoint_every=10) as t:
        for start in range(0, 30, 10):
            t.append_many([sample_entry(i) for i in range(start, start + 10)])
    return location


def _prove(location: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "proof.json"
    assert run(["audit", "prove", "--db", location, *args, "--out", str(out)]) == 0
    return dict(json.loads(out.read_text()))


def _check(tmp_path: Path, doc: dict[str, Any], pub: Path) -> int:
    path = tmp_path / "checked.json"
    path.write_text(json.dumps(doc))
    return run(["audit", "verify-proof", str(path), "--public-key", str(pub)])


def test_one_record_is_proven_offline(
    trail30: str, tmp_path: Path, pub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _prove(trail30, tmp_path, "--seq", "17")
    assert (doc["leaf_index"], doc["tree_size"], len(doc["inclusion_path"])) == (16, 30, 5)
    assert doc["checkpoint"].startswith(f"phaseroute.audit/{doc['chain_id']}\n30\n")
    capsys.readouterr()
    assert _check(tmp_path, doc, pub) == 0  # the file and the key: no database involved
    out = capsys.readouterr().out
    assert "record 17 is included" in out
    assert "case CASE-0002" in out
    assert "request and response text match" in out


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[7] ^= 0x10
    return base64.b64encode(bytes(raw)).decode()


def _rehashed(doc: dict[str, Any]) -> None:
    """A forger who changes the record and recomputes its hash."""
    body = json.loads(doc["record"]["body"])
    body["tier"] = "economy"
    doc["record"]["body"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    r = doc["record"]
    r["hash"] = link_hash(r["seq"], r["prev_hash"], sha256_hex(r["body"]))


def _note_size(doc: dict[str, Any]) -> None:
    doc["checkpoint"] = doc["checkpoint"].replace("\n30\n", "\n31\n", 1)
    doc["tree_size"] = 31


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "altered record": (
        lambda d: d["record"].update(body=d["record"]["body"].replace("frontier", "economy")),
        "does not match its hash",
    ),
    "record re-hashed": (_rehashed, "not in the signed log"),
    "other record's seq": (
        lambda d: d["record"].update(seq=18),
        "does not match its hash",
    ),
    "leaf index + 1": (lambda d: d.update(leaf_index=17), "leaf index 17"),
    "leaf index - 1": (lambda d: d.update(leaf_index=15), "leaf index 15"),
    "flipped path bit": (
        lambda d: d["inclusion_path"].__setitem__(2, _flip(d["inclusion_path"][2])),
        "not in the signed log",
    ),
    "path truncated": (lambda d: d["inclusion_path"].pop(), "not in the signed log"),
    "wrong tree size": (lambda d: d.update(tree_size=29), "differs from the signed head"),
    "signed size changed": (_note_size, "does not verify"),
    "root replaced": (
        lambda d: d.update(
            checkpoint=d["checkpoint"].replace(
                d["checkpoint"].split("\n")[2], base64.b64encode(b"\x00" * 32).decode()
            )
        ),
        "does not verify",
    ),
    "content altered": (
        lambda d: d["content"].update(response="No SAR needed."),
        "does not match record 17's digest",
    ),
    "not a proof": (lambda d: d.update(format="something/1"), "not a proof file"),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_tampered_inclusion_proofs_are_refused(
    case: str,
    trail30: str,
    tmp_path: Path,
    pub: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = _prove(trail30, tmp_path, "--seq", "17")
    change, message = TAMPERINGS[case]
    change(doc)
    capsys.readouterr()
    assert _check(tmp_path, doc, pub) == 1
    out = capsys.readouterr().out
    assert "NOT PROVEN" in out
    assert message in out


def test_a_proof_does_not_verify_with_another_key(
    trail30: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _prove(trail30, tmp_path, "--seq", "3")
    other = tmp_path / "other.pub"
    other.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    capsys.readouterr()
    assert _check(tmp_path, doc, other) == 1
    assert "does not verify with the trusted key" in capsys.readouterr().out


def test_consistency_between_two_signed_heads(
    trail30: str, tmp_path: Path, pub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _prove(trail30, tmp_path, "--consistency", "10", "30")
    capsys.readouterr()
    assert _check(tmp_path, doc, pub) == 0
    assert "the log of 30 records extends the log of 10 records" in capsys.readouterr().out
    bad = dict(
        doc, consistency_path=[_flip(doc["consistency_path"][0]), *doc["consistency_path"][1:]]
    )
    assert _check(tmp_path, bad, pub) == 1
    swapped = dict(doc, first=doc["second"], second=doc["first"])
    assert _check(tmp_path, swapped, pub) == 1
    assert _check(tmp_path, dict(doc, consistency_path=[]), pub) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seq", "31"], "no signed tree head covers record 31"),
        (["--consistency", "10", "25"], "no signed tree head of size 25"),
        (["--consistency", "20", "10"], "needs 0 < A <= B"),
        ([], "exactly one of --seq N or --consistency A B"),
        (["--seq", "3", "--consistency", "10", "20"], "exactly one of"),
    ],
)
def test_proof_requests_that_cannot_be_met_say_why(
    trail30: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["audit", "prove", "--db", trail30, *args]) == 1
    assert message in capsys.readouterr().err


def test_proofs_from_the_subtree_cache_equal_proofs_from_the_leaves(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    db = tmp_path / "big.db"
    with AuditTrail.open(db, signing_key=signing_key, checkpoint_every=100) as t:
        for start in range(0, 1100, 100):
            t.append_many([sample_entry(i) for i in range(start, start + 100)])
        store = t.store
        engine = open_engine(db)
        with engine.connect() as conn:
            levels = dict(
                conn.execute(text("SELECT level, COUNT(*) FROM audit_tree GROUP BY level")).all()
            )
            hashes = [
                leaf_hash(bytes.fromhex(h))
                for (h,) in conn.execute(text("SELECT hash FROM audit_records ORDER BY seq"))
            ]
        engine.dispose()
        assert levels == {8: 4, 9: 2, 10: 1}  # 1,100 leaves: four 256s, two 512s, one 1,024
        trusted = trusted_keys([signing_key.public_key()])
        for seq in (1, 256, 257, 700, 1024, 1025, 1100):
            doc = prove_inclusion(store, seq)
            assert doc["tree_size"] == 1100
            want = inclusion_path(seq - 1, 1100, SubtreeSource(hashes))
            assert [base64.b64decode(p) for p in doc["inclusion_path"]] == want
            assert verify_proof(doc, trusted).ok
