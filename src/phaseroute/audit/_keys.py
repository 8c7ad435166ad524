"""Ed25519 checkpoint keys: generate a pair, load the private key by location, load public keys.

The private key is named by location (`env:NAME` holding the PEM text, or `file:path`) and
is never written to the database; verifiers need only the public key.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from phaseroute.errors import Problem, SecretError

_FIX_LOCATION = (
    "write env:PHASEROUTE_AUDIT_KEY or file:keys/audit.key (see `phaseroute audit keygen`)"
)


@dataclass(frozen=True)
class KeyPairFiles:
    """Where `generate_key_pair` wrote the private and the public key, and the key id."""

    private_key: Path
    public_key: Path
    key_id: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 32 hex digits of SHA-256(raw key)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read_location(ref: str, base_dir: Path | None) -> tuple[bytes, str]:
    """The PEM bytes named by `ref` and a description of where they came from."""
    kind, sep, where = ref.partition(":")
    where = where.strip()
    if not sep or not where:
        raise SecretError(
            [
                Problem(
                    f"key location {ref!r} is not of the form env:NAME or file:path",
                    fix=_FIX_LOCATION,
                )
            ]
        )
    if kind == "env":
        value = os.environ.get(where)
        if value is None or not value.strip():
            raise SecretError(
                [
                    Problem(
                        f"environment variable {where} (audit signing key) is not set or empty",
                        fix=f'export {where}="$(cat keys/audit.key)" before running',
                    )
                ]
            )
        return value.strip().encode("utf-8"), f"environment variable {where}"
    if kind == "file":
        path = Path(where).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_bytes(), str(path)
        except OSError as e:
            raise SecretError(
                [
                    Problem(
                        f"cannot read the audit key file: {e.strerror}",
                        file=str(path),
                        fix="create it with `phaseroute audit keygen` or correct the path",
                    )
                ]
            ) from None
    raise SecretError(
        [Problem(f"unknown key location kind {kind!r} in {ref!r}", fix=_FIX_LOCATION)]
    )


def load_signing_key(ref: str, base_dir: Path | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key at `ref` (`env:NAME` with PEM text, or `file:path`).

    Relative file paths are resolved against `base_dir` (the policy's directory) when given.
    """
    data, where = _read_location(ref, base_dir)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SecretError(
            [
                Problem(
                    f"{where} does not hold an unencrypted PEM private key",
                    fix="generate one with `phaseroute audit keygen --out keys/`",
                )
            ]
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SecretError(
            [
                Problem(
                    f"{where} holds a {type(key).__name__}, not an Ed25519 key",
                    fix="generate one with `phaseroute audit keygen --out keys/`",
                )
            ]
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file at `path` (as written by keygen or export)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SecretError(
            [Problem(f"cannot read the public key: {e.strerror}", file=str(path))]
        ) from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SecretError(
            [Problem("not a PEM public key", file=str(path), fix="pass the audit.pub from keygen")]
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SecretError(
            [Problem(f"holds a {type(key).__name__}, not an Ed25519 key", file=str(path))]
        )
    return key


def generate_key_pair(directory: Path, name: str = "audit", *, force: bool = False) -> KeyPairFiles:
    """Write `<name>.key` (private, mode 0600) and `<name>.pub` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{name}.key"
    public_path = directory / f"{name}.pub"
    if not force:
        for path in (private_path, public_path):
            if path.exists():
                raise SecretError(
                    [
                        Problem(
                            "key file already exists; refusing to overwrite a signing key",
                            file=str(path),
                            fix="choose another --out directory or --name, or pass --force",
                        )
                    ]
                )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_pem(key.public_key()))
    return KeyPairFiles(private_path, public_path, key_id(key.public_key()))
