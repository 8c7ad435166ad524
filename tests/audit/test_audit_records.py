"""Records: validation of entries, canonical encoding, secret stripping, keys, receipts,
checkpoint scheduling, redaction, erasure and export bundles."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
import rfc8785
from audit_samples import sample_entry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phaseroute.audit import (
    AuditTrail,
    FindingKind,
    export_bundle,
    generate_key_pair,
    load_public_key,
    load_signing_key,
    records_for_case,
    stats,
    verify_bundle,
)
from phaseroute.audit._codec import encode_record, link_hash, sha256_hex, strip_secrets
from phaseroute.errors import AuditWriteFailed, RequestError, SecretError

T = "2026-11-26T10:00:00.000000Z"


def test_link_hash_is_the_rfc8785_encoding_of_the_link() -> None:
    body_sha, prev = sha256_hex("b"), sha256_hex("p")
    expected = sha256_hex(rfc8785.dumps({"seq": 42, "prev_hash": prev, "body_sha256": body_sha}))
    assert link_hash(42, prev, body_sha) == expected


def test_the_same_entry_always_encodes_to_the_same_bytes() -> None:
    a = encode_record(sample_entry(3), T)
    b = encode_record(sample_entry(3), T)
    assert a.body == b.body
    assert a.body_sha256 == sha256_hex(a.body)
    assert a.body.encode() == rfc8785.dumps(json.loads(a.body))  # canonical, RFC 8785
    assert encode_record(sample_entry(4), T).body != a.body


def test_floats_are_encoded_the_ecmascript_way() -> None:
    body = json.loads(encode_record(sample_entry(latency_s=1e-7), T).body)
    assert '"latency_s":1e-7' in encode_record(sample_entry(latency_s=1e-7), T).body
    assert body["latency_s"] == 1e-7


def test_credentials_are_stripped_and_the_paths_recorded() -> None:
    request = {
        "messages": [{"role": "user", "content": "hi"}],
        "params": {"max_tokens": 10, "api_key": "sk-secret", "X-Api-Key": "k"},
        "headers": {"Authorization": "Bearer abc", "x-request-id": "1"},
        "openai_api_key": "sk-2",
    }
    clean, removed = strip_secrets(request)
    assert "sk-secret" not in json.dumps(clean)
    assert "Bearer" not in json.dumps(clean)
    assert clean["params"] == {"max_tokens": 10}
    assert clean["headers"] == {"x-request-id": "1"}
    assert sorted(removed) == [
        "headers.Authorization",
        "openai_api_key",
        "params.X-Api-Key",
        "params.api_key",
    ]
    rec = encode_record(sample_entry(request=request), T)
    assert "sk-secret" not in rec.body
    assert rec.request_json is not None
    assert "sk-secret" not in rec.request_json
    assert json.loads(rec.body)["request_stripped_keys"] == sorted(removed)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workflow", "", "non-empty string"),
        ("input_tokens", -1, "non-negative integer"),
        ("input_tokens", True, "non-negative integer"),
        ("latency_s", float("nan"), "finite"),
        ("cost", "cheap", "decimal number"),
        ("started_at", "yesterday", "ISO-8601"),
        ("finished_at", "2026-11-26T10:00:00", "UTC offset"),
        ("redact", "yes", "True or False"),
        ("request", ["not", "a", "mapping"], "mapping"),
    ],
)
def test_malformed_entries_are_refused_naming_the_field(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(RequestError, match=rf"AuditEntry\.{field} .*{message}"):
        sample_entry(**{field: value})


def test_lists_from_callers_become_tuples() -> None:
    e = sample_entry(reasons=["a", "b"], attempts=[["m", "429"]], fallbacks=["x"])
    assert e.reasons == ("a", "b")
    assert e.attempts == (("m", "429"),)
    assert e.fallbacks == ("x",)


def test_a_non_json_request_fails_closed() -> None:
    with pytest.raises(AuditWriteFailed, match="not JSON-encodable"):
        encode_record(sample_entry(request={"x": object()}), T)


def test_keys_by_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = generate_key_pair(tmp_path / "keys")
    assert os.stat(files.private_key).st_mode & 0o777 == 0o600
    key = load_signing_key("file:keys/audit.key", base_dir=tmp_path)
    monkeypatch.setenv("PHASEROUTE_AUDIT_KEY", files.private_key.read_text())
    env_key = load_signing_key("env:PHASEROUTE_AUDIT_KEY")
    assert env_key.public_key() == key.public_key() == load_public_key(files.public_key)
    with pytest.raises(SecretError, match="already exists"):
        generate_key_pair(tmp_path / "keys")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("keys/audit.key", "not of the form env:NAME or file:path"),
        ("env:PHASEROUTE_NO_SUCH_KEY", "PHASEROUTE_NO_SUCH_KEY .*not set"),
        ("file:missing.key", "cannot read the audit key file"),
        ("file:bad.key", "does not hold an unencrypted PEM private key"),
        ("vault:x", "unknown key location kind"),
    ],
)
def test_bad_key_locations_say_what_to_do(tmp_path: Path, ref: str, message: str) -> None:
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(SecretError, match=message):
        load_signing_key(ref, base_dir=tmp_path)


def test_receipts_checkpoints_and_close(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    location = tmp_path / "a.db"
    trail = AuditTrail.open(location, signing_key=signing_key, checkpoint_every=5)
    receipts = [trail.append(sample_entry(i)) for i in range(7)]
    assert [r.sequence for r in receipts] == list(range(1, 8))
    assert receipts[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.record_hash for a, b in itertools.pairwise(receipts))
    assert [r.checkpointed for r in receipts] == [False] * 4 + [True] + [False] * 2
    assert trail.verify().first_bad is not None  # 6..7 not yet signed
    assert trail.verify(allow_uncovered=True).ok
    trail.close()
    with pytest.raises(AuditWriteFailed, match="closed"):
        trail.append(sample_entry())
    reopened = AuditTrail.open(location)
    report = reopened.verify([signing_key.public_key()])
    assert report.ok
    assert (report.checkpoints, report.covered_seq) == (2, 7)
    with pytest.raises(RequestError, match="no signing key"):
        reopened.checkpoint()
    reopened.close()


def test_time_based_checkpoints(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    with AuditTrail.open(
        tmp_path / "a.db", signing_key=signing_key, checkpoint_seconds=0.05
    ) as trail:
        trail.append(sample_entry())
        deadline = 200
        while trail.store.head().checkpoint_seq < 1 and deadline:
            trail._closed.wait(0.02)
            deadline -= 1
        assert trail.store.head().checkpoint_seq == 1  # signed by the timer, not by close()


def test_redacted_records_keep_only_digests(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    with AuditTrail.open(tmp_path / "a.db", signing_key=signing_key) as trail:
        trail.append(sample_entry(1, redact=True, response_text="secret answer"))
        trail.append(sample_entry(2))
        [redacted] = records_for_case(trail.store, "CASE-0001")
        assert redacted.content == "redacted"
        assert redacted.response is None
        assert redacted.fields["response_sha256"] == sha256_hex("secret answer")
        receipt = trail.erase([2], reason="GDPR Art. 17", authority="DPO")
        assert receipt.sequence == 3
        with pytest.raises(RequestError, match="no stored content to erase"):
            trail.erase([2], reason="again", authority="DPO")
        with pytest.raises(RequestError, match="no stored content to erase"):
            trail.erase([1], reason="redacted: nothing stored", authority="DPO")
        s = stats(trail.store)
        assert (s.records, s.redacted, s.erased) == (3, 1, 1)
    with AuditTrail.open(tmp_path / "a.db") as trail:
        report = trail.verify([signing_key.public_key()])
    assert report.ok
    assert (report.redacted, report.erased) == (1, 1)


def test_export_bundle_verifies_without_the_database(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    with AuditTrail.open(tmp_path / "a.db", signing_key=signing_key, checkpoint_every=4) as trail:
        trail.append_many([sample_entry(i) for i in range(10)])
        trail.erase([3], reason="GDPR Art. 17", authority="DPO")
        trail.checkpoint()
        summary = export_bundle(
            trail.store, tmp_path / "bundle", public_keys=[signing_key.public_key()]
        )
    assert (summary.records, summary.covered_seq, summary.key_source) == (11, 11, "operator")
    (tmp_path / "a.db").unlink()
    report = verify_bundle(tmp_path / "bundle", [signing_key.public_key()])
    assert report.ok, [f.render() for f in report.findings]
    assert (report.records, report.erased, report.erasures) == (11, 1, 1)
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert manifest["head_seq"] == 11

    lines = (tmp_path / "bundle" / "records.jsonl").read_text().splitlines()
    doc = json.loads(lines[5])
    doc["body"]["cost"] = "0.00001"
    lines[5] = json.dumps(doc)
    (tmp_path / "bundle" / "records.jsonl").write_text("\n".join(lines) + "\n")
    tampered = verify_bundle(tmp_path / "bundle", [signing_key.public_key()])
    assert tampered.first_bad is not None
    assert (tampered.first_bad.kind, tampered.first_bad.seq) == (FindingKind.ALTERED, 6)
    assert any("differs from the digest in manifest.json" in n for n in tampered.notes)


def test_export_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    with AuditTrail.open(tmp_path / "a.db") as trail, pytest.raises(RequestError, match="empty"):
        export_bundle(trail.store, tmp_path / "out")


def test_public_api_is_exactly_all() -> None:
    from phaseroute import audit

    assert len(audit.__all__) == len(set(audit.__all__))
    for name in audit.__all__:
        assert hasattr(audit, name), name
    public = {n for n in vars(audit) if not n.startswith("_")}
    assert public - set(audit.__all__) == set()
