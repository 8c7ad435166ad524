"""Export bundles: a self-contained directory a third party verifies without our database.

manifest.json       format, chain id, head, counts, SHA-256 of every other file
records.jsonl       {"body": <canonical record>, "hash", "prev_hash", "seq"} per line
checkpoints.jsonl   signed checkpoints
content.jsonl       request/response text still stored (erased and redacted ones say so)
keys/<key_id>.pub   Ed25519 public key(s), PEM
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phaseroute.audit._inspect import trusted_keys
from phaseroute.audit._jcs import canonical
from phaseroute.audit._keys import key_id, load_public_key, public_pem
from phaseroute.audit._schema import now_iso
from phaseroute.audit._snapshot import Checkpoint, StoredRecord
from phaseroute.audit._store import ChainStore
from phaseroute.audit._verify import (
    Finding,
    FindingKind,
    VerificationReport,
    finding_order,
    verify_chain,
)
from phaseroute.errors import Problem, RequestError, UserError

BUNDLE_FORMAT = "phaseroute.audit.bundle/1"
_FILES = ("records.jsonl", "checkpoints.jsonl", "content.jsonl")


@dataclass(frozen=True)
class ExportSummary:
    """What `export_bundle` wrote."""

    directory: Path
    records: int
    checkpoints: int
    head_seq: int
    covered_seq: int
    key_ids: tuple[str, ...]
    key_source: str  # "operator" (keys passed in) or "database" (keys named by checkpoints)


def export_bundle(
    store: ChainStore,
    out: Path,
    *,
    public_keys: Sequence[Ed25519PublicKey] = (),
    include_content: bool = True,
) -> ExportSummary:
    """Write the chain, its checkpoints, its content and public key(s) into `out`."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RequestError(
            f"--out {out} exists and is not an empty directory — name a new directory"
        )
    (out / "keys").mkdir(parents=True, exist_ok=True)
    with store.snapshot() as snap:
        head = snap.head()
        checkpoints = snap.checkpoints()
        records, last_hash = _write_records(out, snap.records(), include_content)
    with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as f:
        for cp in checkpoints:
            f.write(json.dumps(asdict(cp), sort_keys=True) + "\n")
    if public_keys:
        keys, source = list(public_keys), "operator"
    else:
        embedded = {cp.public_key for cp in checkpoints}
        keys = [Ed25519PublicKey.from_public_bytes(bytes.fromhex(k)) for k in sorted(embedded)]
        source = "database"
    ids = []
    for k in keys:
        ids.append(key_id(k))
        (out / "keys" / f"{ids[-1]}.pub").write_bytes(public_pem(k))
    covered = max((cp.seq for cp in checkpoints), default=0)
    manifest = {
        "format": BUNDLE_FORMAT,
        "chain_id": head.chain_id,
        "exported_at": now_iso(),
        "records": records,
        "head_seq": head.last_seq,
        "head_hash": last_hash,
        "covered_seq": covered,
        "checkpoints": len(checkpoints),
        "keys": ids,
        "key_source": source,
        "content_included": include_content,
        "files": {name: _file_sha256(out / name) for name in _FILES},
        "record_hash": 'SHA-256(JCS({"body_sha256": SHA-256(JCS(body)), "prev_hash", "seq"}))',
        "checkpoint_signature": "Ed25519 over JCS({chain_id, count, format, head_hash, "
        "key_id, seq, signed_at})",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportSummary(out, records, len(checkpoints), head.last_seq, covered, tuple(ids), source)


def _write_records(
    out: Path, rows: Iterator[StoredRecord], include_content: bool
) -> tuple[int, str]:
    count, last = 0, "0" * 64
    with (
        (out / "records.jsonl").open("w", encoding="utf-8") as rf,
        (out / "content.jsonl").open("w", encoding="utf-8") as cf,
    ):
        for r in rows:
            # The stored body is already canonical JSON, so it is written verbatim.
            rf.write(
                f'{{"body":{r.body},"hash":"{r.hash}","prev_hash":"{r.prev_hash}","seq":{r.seq}}}\n'
            )
            count, last = count + 1, r.hash
            if r.has_content:
                line: dict[str, Any] = {"seq": r.seq, "erased_at": r.erased_at}
                if include_content:
                    line["request"] = r.request
                    line["response"] = r.response
                cf.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
    return count, last


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _bundle_error(path: Path, message: str, fix: str | None = None) -> UserError:
    return UserError([Problem(message, file=str(path), fix=fix)])


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise _bundle_error(
            path,
            f"cannot read the bundle manifest: {e.strerror}",
            "pass the --out directory written by `phaseroute audit export`",
        ) from None
    except json.JSONDecodeError as e:
        raise _bundle_error(path, f"the manifest is not JSON (line {e.lineno})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise _bundle_error(path, f"not a {BUNDLE_FORMAT} manifest")
    return manifest


def verify_bundle(
    directory: Path,
    public_keys: Sequence[Ed25519PublicKey] = (),
    *,
    allow_uncovered: bool = False,
    keep_leaves: bool = False,
) -> VerificationReport:
    """Verify an export bundle with no database; keys from the caller, else the bundle's."""
    manifest = read_manifest(directory)
    notes: list[str] = []
    for name, digest in dict(manifest.get("files", {})).items():
        path = directory / name
        if not path.exists() or _file_sha256(path) != digest:
            notes.append(f"{name} differs from the digest in manifest.json")
    if public_keys:
        trusted = trusted_keys(public_keys)
    else:
        trusted = trusted_keys(
            load_public_key(p) for p in sorted((directory / "keys").glob("*.pub"))
        )
        notes.append(
            "trusting the bundle's own public key(s) "
            + ", ".join(sorted(trusted))
            + " — compare with the key id the operator published, or pass --public-key"
        )
    checkpoints = [
        Checkpoint(**_json_line(directory / "checkpoints.jsonl", n, line))
        for n, line in _lines(directory / "checkpoints.jsonl")
    ]
    content = {
        int(c["seq"]): c
        for c in (
            _json_line(directory / "content.jsonl", n, line)
            for n, line in _lines(directory / "content.jsonl")
        )
    }
    findings: list[Finding] = []
    report = verify_chain(
        _bundle_records(directory / "records.jsonl", content, findings),
        checkpoints,
        trusted=trusted,
        chain_id=manifest.get("chain_id"),
        head_seq=manifest.get("head_seq"),
        allow_uncovered=allow_uncovered,
        check_content=bool(manifest.get("content_included", True)),
        keep_leaves=keep_leaves,
    )
    all_findings = sorted([*report.findings, *findings], key=finding_order)
    return VerificationReport(
        **{
            **report.__dict__,
            "findings": tuple(all_findings),
            "notes": (*report.notes, *notes),
        }
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    yield n, line
    except OSError as e:
        raise _bundle_error(path, f"cannot read bundle file: {e.strerror}") from None


def _json_line(path: Path, n: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        raise UserError([Problem("not a JSON line", file=str(path), line=n)]) from None


def _bundle_records(
    path: Path, content: Mapping[int, Mapping[str, Any]], findings: list[Finding]
) -> Iterator[StoredRecord]:
    last = 0
    for n, line in _lines(path):
        try:
            row = json.loads(line)
            seq = int(row["seq"])
            body = canonical(row["body"]).decode("utf-8")
            prev_hash, own = str(row["prev_hash"]), str(row["hash"])
        except Exception as e:  # any malformed line is an altered record
            findings.append(
                Finding(FindingKind.ALTERED, last + 1, f"records.jsonl line {n} is unreadable: {e}")
            )
            return
        c = content.get(seq)
        yield StoredRecord(
            seq,
            prev_hash,
            own,
            body,
            c is not None,
            None if c is None else c.get("request"),
            None if c is None else c.get("response"),
            None if c is None else c.get("erased_at"),
        )
        last = seq
