"""Secrets named by location (`env:NAME`, `file:path`), resolved only when a provider is built."""

from __future__ import annotations

import os
from pathlib import Path

from phaseroute.errors import Problem, SecretError


def resolve_secret(ref: str, base_dir: Path) -> str:
    """Return the secret named by `ref`: `env:NAME` or `file:path` (relative to `base_dir`).

    Errors name the location and how to fix it, never any value.
    """
    kind, sep, where = ref.partition(":")
    if not sep or not where.strip():
        raise SecretError(
            [
                Problem(
                    f"secret reference {ref!r} is not of the form env:NAME or file:path",
                    fix="write e.g. env:ANTHROPIC_API_KEY or file:secrets/anthropic.key",
                )
            ]
        )
    where = where.strip()
    if kind == "env":
        value = os.environ.get(where)
        if value is None or not value.strip():
            raise SecretError(
                [
                    Problem(
                        f"environment variable {where} is not set or empty",
                        fix=f"export {where}=... before running",
                    )
                ]
            )
        return value.strip()
    if kind == "file":
        path = Path(where).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SecretError(
                [
                    Problem(
                        f"cannot read secret file: {e.strerror}",
                        file=str(path),
                        fix="create the file or correct the path in the secret reference",
                    )
                ]
            ) from None
        if not value:
            raise SecretError(
                [Problem("secret file is empty", file=str(path), fix="write the key into it")]
            )
        return value
    raise SecretError(
        [
            Problem(
                f"unknown secret location kind {kind!r} in {ref!r}",
                fix="use env:NAME or file:path",
            )
        ]
    )
