"""Canonical encoding of records and checkpoints (RFC 8785 JSON) and the hash-chain link.

A record's *body* is the RFC 8785 canonical JSON of its fields; its *hash* is
``SHA-256(JCS({"body_sha256": SHA-256(body), "prev_hash": <previous hash>, "seq": n}))``.
Hashing the stored body bytes (instead of re-encoding columns) keeps verification cheap, and
the link object binds position and predecessor, so moving or re-ordering records is detected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from phaseroute.audit._entry import AuditEntry
from phaseroute.audit._jcs import canonical
from phaseroute.errors import AuditWriteFailed

RECORD_FORMAT = "phaseroute.audit.record/1"
CHECKPOINT_FORMAT = "phaseroute.audit.checkpoint/1"
CHECKPOINT_FORMAT_V2 = "phaseroute.audit.checkpoint/2"
ERASURE_FORMAT = "phaseroute.audit.erasure/1"
# How an erasure body is recognised without parsing it (JCS: no spaces, fixed key spelling).
ERASURE_MARK = f'"format":"{ERASURE_FORMAT}"'
GENESIS_HASH = "0" * 64

# Request keys that name credentials, by rule rather than by list (docs/audit.md, "Credentials
# are never stored"): the name is lower-cased and stripped of everything but letters and digits
# (so `X-Auth-Token`, `xAuthToken` and `x_auth_token` are one name), then searched for a
# credential word anywhere in it. Two families of harmless names are exempt: token *counts*
# (`max_tokens`, `input_tokens`, `tokenizer`, `token_count`) and authorship (`author`,
# `authored_by`, `authority`) — but `authorization`/`authorisation` still match.
_CREDENTIAL_NAME = re.compile(
    r"(access|refresh|session|bearer|auth|api|csrf|xsrf)tokens?"
    r"|token(?!s|iz|count|limit|budget|usage)"
    r"|secret|passw(or)?d|passphrase|credential|privatekey|apikey|accesskey|signingkey"
    r"|auth(?!or(?!i[sz]))|cookie|bearer"
)


_NOT_ALNUM = re.compile(r"[\W_]+")
# Keys every request carries, which the rule keeps; skipping the rule for them is only a
# shortcut (a test holds every one of them to the rule).
KEPT_WITHOUT_ASKING = frozenset(
    {"system", "messages", "role", "content", "params", "max_tokens", "temperature", "text"}
    | {"type", "model", "stop", "stop_sequences", "top_p", "top_k", "stream", "metadata"}
)


def is_credential_name(name: str) -> bool:
    """True if a request key is named like a credential (see `_CREDENTIAL_NAME`)."""
    if name in KEPT_WITHOUT_ASKING:
        return False
    return _CREDENTIAL_NAME.search(_NOT_ALNUM.sub("", name.lower())) is not None


_CONTENT_FIELDS = ("request", "response_text", "redact")
# The entry fields that go into the body as they are (after validation by AuditEntry).
_BODY_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name not in _CONTENT_FIELDS)


@dataclass(frozen=True)
class EncodedRecord:
    """A record ready to store: canonical body plus the (erasable) content it commits to."""

    body: str
    body_sha256: str
    recorded_at: str
    stores_content: bool  # False when redacted: only the digests are kept
    request_json: str | None
    response_text: str | None


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def link_hash(seq: int, prev_hash: str, body_sha256: str) -> str:
    """The record hash: SHA-256 of JCS({"body_sha256", "prev_hash", "seq"}).

    Written out by hand because this runs for every record verified; the keys are already
    in JCS order and hex digests and integers need no escaping, so the bytes equal
    `canonical(...)` (a test holds the two together).
    """
    link = f'{{"body_sha256":"{body_sha256}","prev_hash":"{prev_hash}","seq":{seq}}}'
    return hashlib.sha256(link.encode("ascii")).hexdigest()


def strip_secrets(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """A copy of `value` without credential-named keys, and the dotted paths removed."""
    removed: list[str] = []
    return _strip(value, path, removed), removed


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _strip(value: Any, path: str, removed: list[str]) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditWriteFailed(
                    f"audit request document has a non-string key {key!r} at {path or '(root)'}"
                )
            if is_credential_name(key):
                removed.append(f"{path}.{key}" if path else key)
            elif type(item) in _LEAVES:
                out[key] = item
            else:
                out[key] = _strip(item, f"{path}.{key}" if path else key, removed)
        return out
    if isinstance(value, list | tuple):
        return [
            item if type(item) in _LEAVES else _strip(item, f"{path}[{i}]", removed)
            for i, item in enumerate(value)
        ]
    return value


def encode_record(entry: AuditEntry, recorded_at: str) -> EncodedRecord:
    """The canonical body of `entry` recorded at `recorded_at`, and its content."""
    request, stripped = strip_secrets(entry.request)
    try:
        request_json = canonical(request)
    except Exception as e:  # rfc8785 raises several types for non-JSON values
        raise AuditWriteFailed(f"the audit request document is not JSON-encodable: {e}") from e
    values = {name: getattr(entry, name) for name in _BODY_FIELDS}
    values["reasons"] = list(entry.reasons)
    values["fallbacks"] = list(entry.fallbacks)
    values["escalations"] = [dict(x) if isinstance(x, Mapping) else x for x in entry.escalations]
    values["attempts"] = [list(a) for a in entry.attempts]
    body: dict[str, Any] = {
        **values,
        "format": RECORD_FORMAT,
        "recorded_at": recorded_at,
        "redacted": entry.redact,
        "request_sha256": sha256_hex(request_json),
        "request_stripped_keys": sorted(stripped),
        "response_sha256": sha256_hex(entry.response_text),
    }
    try:
        body_bytes = canonical(body)
    except Exception as e:
        raise AuditWriteFailed(f"the audit record is not JSON-encodable: {e}") from e
    return EncodedRecord(
        body=body_bytes.decode("utf-8"),
        body_sha256=sha256_hex(body_bytes),
        recorded_at=recorded_at,
        stores_content=not entry.redact,
        request_json=None if entry.redact else request_json.decode("utf-8"),
        response_text=None if entry.redact else entry.response_text,
    )


def checkpoint_payload(
    chain_id: str,
    seq: int,
    head_hash: str,
    count: int,
    signed_at: str,
    key_id: str,
    root_hash: str | None = None,
) -> bytes:
    """The exact bytes an Ed25519 checkpoint signature covers.

    Version 2 (with an RFC 9162 `root_hash`) adds the tree root; version 1 checkpoints of an
    upgraded database keep verifying against the version 1 payload.
    """
    doc: dict[str, Any] = {
        "chain_id": chain_id,
        "count": count,
        "format": CHECKPOINT_FORMAT,
        "head_hash": head_hash,
        "key_id": key_id,
        "seq": seq,
        "signed_at": signed_at,
    }
    if root_hash is not None:
        doc["format"] = CHECKPOINT_FORMAT_V2
        doc["root_hash"] = root_hash
    return canonical(doc)


def encode_erasure(
    seqs: list[int], *, reason: str, authority: str, recorded_at: str
) -> tuple[str, str]:
    """The canonical body of an erasure record and its SHA-256: which records' content was
    erased, why, and under which authority. It is chained like any record."""
    body = canonical(
        {
            "authority": authority,
            "erases": sorted(set(seqs)),
            "format": ERASURE_FORMAT,
            "reason": reason,
            "recorded_at": recorded_at,
        }
    )
    return body.decode("utf-8"), sha256_hex(body)
