"""``phaseroute audit publish | prove | verify-proof``: signed tree heads held outside the
database, and RFC 9162 proofs a third party checks with the public key alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from phaseroute.audit import (
    DirectoryWitness,
    load_signing_key,
    prove_consistency,
    prove_inclusion,
    trusted_keys,
    verify_proof,
)
from phaseroute.cli._tables import report_console
from phaseroute.cli.audit import DbOpt, KeyOpt, PublicKeyOpt, _open, _trusted
from phaseroute.errors import Problem, RequestError, UserError
from phaseroute.storage.database import DEFAULT_DATABASE


def publish(
    to: Annotated[
        Path, typer.Option("--to", help="Witness directory (append-only; new files only).")
    ],
    db: DbOpt = DEFAULT_DATABASE,
    key: KeyOpt = None,
    all_heads: Annotated[
        bool, typer.Option("--all", help="Publish every signed head, not only the newest.")
    ] = False,
) -> None:
    """Publish the newest signed tree head (a C2SP signed note) to a witness directory the
    database's administrators cannot rewrite; `verify --witness DIR` later proves the trail
    still extends it. With --key the current head is signed first."""
    store = _open(db)
    try:
        if key is not None:
            store.checkpoint(load_signing_key(key, Path.cwd()))
        with store.snapshot() as snap:
            heads = [cp for cp in snap.checkpoints() if cp.note is not None]
    finally:
        store.dispose()
    if not heads:
        raise RequestError(
            f"{db} has no signed tree head to publish yet — sign one with --key LOCATION "
            "(checkpoints written before schema version 2 carry no tree head)"
        )
    witness = DirectoryWitness(to)
    console = report_console()
    for cp in heads if all_heads else heads[-1:]:
        new = witness.publish(cp.note or "")
        state = "published" if new else "already held"
        console.print(
            f"{state}: signed head of {cp.seq} record(s), root {cp.root_hash}, key "
            f"{cp.key_id} → {escape(str(to))}"
        )


def prove(
    db: DbOpt = DEFAULT_DATABASE,
    seq: Annotated[
        int | None, typer.Option("--seq", help="Prove that record N is in the signed log.")
    ] = None,
    consistency: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--consistency",
            help="Prove that the signed log of B records extends the signed log of A records.",
            metavar="A B",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the proof here (default: stdout).")
    ] = None,
) -> None:
    """Write an RFC 9162 proof bundle that `audit verify-proof` checks with the public key
    alone: --seq N (the record, its inclusion path and the signed tree head) or
    --consistency A B (two signed heads and the consistency path between them)."""
    if (seq is None) == (consistency is None):
        raise RequestError("pass exactly one of --seq N or --consistency A B")
    store = _open(db)
    try:
        if seq is not None:
            doc = prove_inclusion(store, seq)
        else:
            assert consistency is not None
            doc = prove_consistency(store, consistency[0], consistency[1])
    finally:
        store.dispose()
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    what = (
        f"record {seq}" if consistency is None else f"sizes {consistency[0]} and {consistency[1]}"
    )
    report_console().print(f"wrote the proof for {what} to {escape(str(out))}")


def verify_proof_command(
    proof: Annotated[Path, typer.Argument(help="A proof file written by `audit prove`.")],
    public_key: PublicKeyOpt = None,
    key: KeyOpt = None,
) -> None:
    """Check a proof file with the operator's public key alone — no database. Exit 0 if the
    proof holds, 1 if it does not (saying which check failed)."""
    keys = _trusted(public_key, key)
    if not keys:
        raise RequestError(
            "verify-proof needs the operator's public key — pass --public-key keys/audit.pub"
        )
    try:
        doc = json.loads(proof.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(
            [Problem(f"cannot read the proof: {e.strerror}", file=str(proof))]
        ) from None
    except json.JSONDecodeError as e:
        raise UserError(
            [Problem(f"not a proof file: not JSON ({e.msg})", file=str(proof), line=e.lineno)]
        ) from None
    if not isinstance(doc, dict):
        raise UserError([Problem("not a proof file: not a JSON object", file=str(proof))])
    check = verify_proof(doc, trusted_keys(keys))
    console = report_console()
    for line in check.lines[:-1] if not check.ok else check.lines:
        console.print(f"  {escape(line)}")
    if check.ok:
        console.print(f"[green]proven[/]: {escape(str(proof))} ({check.kind} proof)")
        return
    console.print(f"[bold red]NOT PROVEN[/]: {escape(str(proof))} — {escape(check.lines[-1])}")
    raise typer.Exit(1)
