"""``phaseroute audit``: keys, verification, export bundles, checkpoints and erasure; proofs
and witnesses are in `audit_proofs`, reading the trail (show, stats) in `audit_read`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.markup import escape

from phaseroute.audit import (
    ChainStore,
    DirectoryWitness,
    Finding,
    FindingKind,
    Verdict,
    VerificationReport,
    check_against_witness,
    export_bundle,
    generate_key_pair,
    load_public_key,
    load_signing_key,
    trusted_keys,
    verify_bundle,
    verify_store,
)
from phaseroute.audit._bundle import read_manifest
from phaseroute.audit._snapshot import Checkpoint
from phaseroute.audit._witness import PublishedHead
from phaseroute.cli._keyfiles import as_policy_spells_it, ensure_ignored
from phaseroute.cli._tables import (
    JsonOpt,
    emit_json,
    report_console,
)
from phaseroute.errors import CommandLineError, Problem, RequestError, UserError
from phaseroute.policy import load_policy
from phaseroute.storage.database import DEFAULT_DATABASE

DbOpt = Annotated[
    str,
    typer.Option(
        "--db", help="SQLite file path or postgresql:// URL of the audit trail.", metavar="LOCATION"
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Private signing key location: env:NAME (PEM text) or file:path.",
        metavar="LOCATION",
    ),
]
PublicKeyOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="Trusted Ed25519 public key (PEM, from `audit keygen`); repeat for rotated keys.",
    ),
]


def register(app: typer.Typer) -> None:
    from phaseroute.cli import audit_proofs, audit_read

    sub = typer.Typer(
        name="audit",
        help="The tamper-evident audit trail: keys, verify, proofs, witnesses, export, show.",
        no_args_is_help=True,
    )
    sub.command("keygen")(keygen)
    sub.command("verify")(verify)
    sub.command("export")(export)
    sub.command("show")(audit_read.show)
    sub.command("stats")(audit_read.stats_command)
    sub.command("checkpoint")(checkpoint)
    sub.command("erase")(erase)
    sub.command("publish")(audit_proofs.publish)
    sub.command("prove")(audit_proofs.prove)
    sub.command("verify-proof")(audit_proofs.verify_proof_command)
    app.add_typer(sub)


def _open(db: str, *, must_exist: bool = True) -> ChainStore:
    if must_exist and "://" not in db and not Path(db).expanduser().exists():
        raise UserError(
            [
                Problem(
                    "no audit database here",
                    file=db,
                    fix="pass --db with the SQLite file or postgresql:// URL the router writes to",
                )
            ]
        )
    return ChainStore.open(db)


def _trusted(public_keys: list[Path] | None, key: str | None) -> list[Ed25519PublicKey]:
    keys = [load_public_key(p) for p in public_keys or []]
    if key is not None:
        keys.append(load_signing_key(key, Path.cwd()).public_key())
    return keys


def keygen(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Directory for the key files (default: keys/ beside --policy, else ./keys).",
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="The policy that will sign with this key: the path is printed as it must "
            "spell it (relative to the policy).",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="File stem: NAME.key and NAME.pub.")] = "audit",
    force: Annotated[bool, typer.Option(help="Overwrite existing key files.")] = False,
) -> None:
    """Write an Ed25519 key pair for signing checkpoints (private key mode 0600, git-ignored
    when written inside a git work tree) and print the policy line that uses it."""
    if policy is not None and not policy.is_file():
        raise UserError(
            [Problem(f"no such policy file: {policy}", file=str(policy), fix="check the path")]
        )
    if out is None:
        out = policy.parent / "keys" if policy is not None else Path("keys")
    rule = ensure_ignored((out / f"{name}.key").resolve())
    files = generate_key_pair(out, name, force=force)
    console = report_console()
    console.print(f"private key: {escape(str(files.private_key))} (mode 0600; never commit it)")
    if rule is not None:
        console.print(
            f"git-ignored: wrote {escape(rule.pattern)} to {escape(str(rule.gitignore))}, so "
            "the private key stays out of the repository"
        )
    console.print(f"public key:  {escape(str(files.public_key))} (give it to verifiers)")
    console.print(f"key id:      {files.key_id}")
    location = as_policy_spells_it(files.private_key, policy)
    if policy is not None and _names_key(policy, f"file:{location}"):
        console.print(
            f"\n{escape(str(policy))} already signs with it: signing_key: file:{location}"
        )
        return
    where = f"in {escape(str(policy))}" if policy is not None else "in the policy"
    console.print(f"\nAdd {where} (top level):\n\naudit:\n  signing_key: file:{escape(location)}")
    if policy is None:
        console.print(
            "\n(an absolute path; pass --policy POLICY to print it relative to the policy, "
            "or use env:PHASEROUTE_AUDIT_KEY holding the PEM text)"
        )


def _names_key(policy: Path, location: str) -> bool:
    """True when the policy's audit.signing_key already is `location`."""
    try:
        return load_policy(policy).policy.audit.signing_key == location
    except UserError:
        return False  # `check` reports what is wrong with the policy


def verify(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLite file path or postgresql:// URL of the audit trail (default "
            f"{DEFAULT_DATABASE} unless --bundle is given).",
            metavar="LOCATION",
        ),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="An export bundle directory. With --db, the database is checked against it.",
        ),
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            "--witness",
            help="A witness directory (`audit publish --to`): prove the trail extends every "
            "signed head it holds, so truncation and rollback are caught.",
        ),
    ] = None,
    public_key: PublicKeyOpt = None,
    key: KeyOpt = None,
    allow_unsigned_tail: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned-tail",
            help="Accept records after the last checkpoint (a live trail between checkpoints).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every link, signed checkpoint and tree root. Exit codes: 0 intact; 1 tampered
    (first bad seq and what changed); 4 signed by an untrusted key (names its id); 5 unsigned
    tail (intact, but the newest records are not signed yet); 6 truncated or rolled back
    (against --witness or --bundle)."""
    keys = _trusted(public_key, key)
    trusted = trusted_keys(keys)
    extra: list[Finding] = []
    notes: list[str] = []
    if bundle is not None and db is None:
        report = verify_bundle(
            bundle, keys, allow_uncovered=allow_unsigned_tail, keep_leaves=witness is not None
        )
        if not keys:
            trusted = trusted_keys(
                load_public_key(p) for p in sorted((bundle / "keys").glob("*.pub"))
            )
        where = str(bundle)
    else:
        if not keys:
            raise CommandLineError(
                "verify needs a trust anchor the database cannot forge — pass --public-key "
                "keys/audit.pub (written by `phaseroute audit keygen`) or --key LOCATION"
            )
        store = _open(db or DEFAULT_DATABASE)
        try:
            report = verify_store(
                store,
                trusted,
                allow_uncovered=allow_unsigned_tail,
                keep_leaves=witness is not None or bundle is not None,
            )
            where = store.describe()
            if bundle is not None:
                found, seen = _against_bundle(store, report, bundle, keys, allow_unsigned_tail)
                extra.extend(found)
                notes.extend(seen)
                where = f"{where} against bundle {bundle}"
        finally:
            store.dispose()
    if witness is not None:
        check = check_against_witness(
            report, DirectoryWitness(witness).heads(), trusted, str(witness)
        )
        extra.extend(check.findings)
        notes.extend(check.notes)
        where = f"{where} against witness {witness}"
    report = report.with_findings(extra, notes)
    _print_report(report, where, as_json)
    raise typer.Exit(report.verdict.exit_code)


def _against_bundle(
    store: ChainStore,
    report: VerificationReport,
    bundle: Path,
    keys: list[Ed25519PublicKey],
    allow_unsigned_tail: bool,
) -> tuple[list[Finding], list[str]]:
    """Check the database against an earlier export: the same chain, and every record hash
    the bundle holds (its head and its checkpoints) still there and unchanged."""
    manifest = read_manifest(bundle)
    if manifest.get("chain_id") != report.chain_id:
        raise RequestError(
            f"bundle {bundle} is of chain {manifest.get('chain_id')}, the database is chain "
            f"{report.chain_id}: they cannot be checked against each other — pass the bundle "
            "exported from this database, or verify each on its own"
        )
    exported = verify_bundle(bundle, keys, allow_uncovered=allow_unsigned_tail)
    findings = [Finding(f.kind, f.seq, f"in the bundle: {f.message}") for f in exported.findings]
    claims = [(int(manifest["head_seq"]), str(manifest["head_hash"]), "the bundle's head")]
    claims += [
        (cp.seq, cp.head_hash, f"the bundle's checkpoint at seq {cp.seq}")
        for cp in _bundle_checkpoints(bundle)
    ]
    with store.snapshot() as snap:
        for seq, want, what in sorted(claims):
            if seq == 0:
                continue
            if seq > report.head_seq:
                findings.append(
                    Finding(
                        FindingKind.TRUNCATED,
                        report.head_seq + 1,
                        f"{what} is record {seq}, but the database ends at {report.head_seq}: "
                        f"records {report.head_seq + 1}..{seq} were removed since the export",
                    )
                )
                break
            got = snap.record_hashes(seq, seq)
            if got != [want]:
                findings.append(
                    Finding(
                        FindingKind.REWRITTEN,
                        seq,
                        f"the database's record {seq} differs from {what}: the trail was "
                        "rewritten since the export",
                    )
                )
                break
    heads = [
        PublishedHead(cp.note, f"{bundle}/checkpoints.jsonl seq {cp.seq}")
        for cp in _bundle_checkpoints(bundle)
        if cp.note is not None
    ]
    check = check_against_witness(report, heads, trusted_keys(keys), str(bundle))
    findings.extend(check.findings)
    notes = [
        f"compared with bundle {bundle} (exported {manifest.get('exported_at')}, "
        f"{manifest.get('head_seq')} records)",
        *check.notes[-1:],
    ]
    return findings, notes


def _bundle_checkpoints(bundle: Path) -> list[Checkpoint]:
    out = []
    for line in (bundle / "checkpoints.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(Checkpoint(**json.loads(line)))
    return out


_HEADLINES = {
    Verdict.TAMPERED: "[bold red]TAMPERED[/]",
    Verdict.TRUNCATED: "[bold red]TRUNCATED OR ROLLED BACK[/]",
    Verdict.UNTRUSTED_KEY: "[bold yellow]UNTRUSTED KEY[/]",
    Verdict.UNSIGNED_TAIL: "[bold yellow]UNSIGNED TAIL[/]",
}


def _print_report(report: VerificationReport, where: str, as_json: bool) -> None:
    console = report_console()
    verdict = report.verdict
    if as_json:
        doc = asdict(report)
        doc.pop("leaves", None)
        doc["ok"] = report.ok
        doc["verdict"] = str(verdict)
        doc["exit_code"] = verdict.exit_code
        for f in doc["findings"]:
            f["kind"] = str(f["kind"])
        emit_json(doc)
        return
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    summary = (
        f"{report.records} record(s), {report.checkpoints} checkpoint(s), head seq "
        f"{report.head_seq}, signed up to {report.covered_seq}; content: {report.erased} "
        f"erased ({report.erasures} erasure record(s)), {report.redacted} redacted, "
        f"{report.content_missing} missing"
    )
    if report.tree_root is not None:
        summary += f"; tree root {report.tree_root[:16]}…"
    if verdict is Verdict.INTACT:
        console.print(f"[green]intact[/]: {escape(where)} — {summary}")
        return
    first = report.headline_finding or report.findings[0]
    if verdict is Verdict.TAMPERED:
        detail = f"first bad seq {first.seq}: {first.kind.value}"
    elif verdict is Verdict.UNSIGNED_TAIL:
        detail = (
            f"{first.message}. The chain is intact as far as it goes; sign the head with "
            "`phaseroute audit checkpoint --key LOCATION`, or pass --allow-unsigned-tail for a "
            "live trail"
        )
    else:
        detail = first.message
    console.print(f"{_HEADLINES[verdict]}: {escape(where)} — {escape(detail)}")
    for f in report.findings[:10]:
        console.print(f"  {escape(f.render())}")
    if len(report.findings) > 10:
        console.print(f"  … and {len(report.findings) - 10} more (--json lists all)")
    console.print(summary)


def export(
    out: Annotated[Path, typer.Option("--out", help="New directory for the bundle.")],
    db: DbOpt = DEFAULT_DATABASE,
    public_key: PublicKeyOpt = None,
    key: KeyOpt = None,
    content: Annotated[
        bool, typer.Option(help="Include request/response text still stored.")
    ] = True,
) -> None:
    """Write a self-contained bundle (records, checkpoints, content, public keys, manifest)
    that `audit verify --bundle DIR` or a third party checks without this database. With
    --key the head is signed first, so the bundle is fully covered."""
    store = _open(db)
    try:
        keys = _trusted(public_key, key)
        if key is not None:
            store.checkpoint(load_signing_key(key, Path.cwd()))
        summary = export_bundle(store, out, public_keys=keys, include_content=content)
    finally:
        store.dispose()
    console = report_console()
    console.print(
        f"wrote {escape(str(summary.directory))}: {summary.records} record(s), "
        f"{summary.checkpoints} checkpoint(s), signed up to {summary.covered_seq} of "
        f"{summary.head_seq}; key(s) {', '.join(summary.key_ids) or 'none'} "
        f"(from the {summary.key_source})"
    )
    if summary.key_source == "database":
        console.print(
            "[yellow]note:[/] the public keys were taken from the checkpoints in the database; "
            "pass --public-key so the bundle carries the key you publish"
        )


def checkpoint(
    key: Annotated[str, typer.Option("--key", help="Private signing key: env:NAME or file:path.")],
    db: DbOpt = DEFAULT_DATABASE,
) -> None:
    """Sign the current head now (e.g. after a writer was killed before its next checkpoint)."""
    signing = load_signing_key(key, Path.cwd())
    store = _open(db)
    try:
        cp = store.checkpoint(signing)
    finally:
        store.dispose()
    if cp is None:
        report_console().print("the head is already covered by a checkpoint; nothing to sign")
    else:
        report_console().print(f"signed checkpoint at seq {cp.seq} ({cp.head_hash[:16]}…)")


def erase(
    seq: Annotated[
        list[int], typer.Option("--seq", help="Sequence number of a record; repeat for several.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (e.g. 'GDPR Art. 17 request 2026-114').")
    ],
    authority: Annotated[
        str, typer.Option("--authority", help="Under whose authority (e.g. 'DPO, J. Smith').")
    ],
    db: DbOpt = DEFAULT_DATABASE,
    key: KeyOpt = None,
) -> None:
    """Erase the stored request and response of records (data-protection erasure) and chain
    an erasure record naming them, the reason and the authority. The chained digests stay, so
    the chain verifies and reports the content as erased; content missing without such a
    record is reported as tampering. With --key the new head is signed at once."""
    signing = load_signing_key(key, Path.cwd()) if key is not None else None
    store = _open(db)
    try:
        receipt = store.erase(seq, reason=reason, authority=authority)
        cp = store.checkpoint(signing) if signing is not None else None
    finally:
        store.dispose()
    seqs = ", ".join(str(s) for s in sorted(set(seq)))
    console = report_console()
    console.print(
        f"erased the content of record(s) {seqs}; erasure record {receipt.sequence} "
        f"({receipt.record_hash[:16]}…) names them, the reason and the authority"
    )
    if cp is None:
        console.print(
            "[yellow]note:[/] the erasure record is chained but not yet signed — the router "
            "signs it at its next checkpoint, or run `phaseroute audit checkpoint --key ...`"
        )
