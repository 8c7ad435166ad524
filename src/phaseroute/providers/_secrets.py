"""Secrets named by location (`env:NAME`, `file:path`), resolved only when a provider is built;
and the `Redactor` that keeps them (and anything shaped like them) out of error texts."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
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


# Token shapes worth hiding wherever they appear: a bearer credential, and OpenAI / Anthropic
# style keys (`sk-…`, `sk-proj-…`, `sk-ant-…`). Eight characters or more after the prefix, so
# ordinary words such as "sk-learn" stay readable.
_TOKEN_SHAPES = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{8,}")
REDACTED = "[redacted]"
# A configured key shorter than this is a placeholder ("unused", a test's "k"), not a secret;
# hiding every occurrence of it would only garble the message.
MIN_SECRET_CHARS = 8


@dataclass(frozen=True, slots=True)
class Redactor:
    """Hides credentials in text: the configured key values, and bearer / `sk-` style tokens.

    Providers hold one built from their own key and pass every upstream error text through
    it before anything can raise, log, record or audit that text.
    """

    secrets: tuple[str, ...] = ()

    @classmethod
    def for_keys(cls, *keys: str | None) -> Redactor:
        kept = {k for k in keys if k and len(k) >= MIN_SECRET_CHARS}
        return cls(tuple(sorted(kept, key=len, reverse=True)))  # longest first: no partial hits

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPES.sub(_hide, text)


def _hide(match: re.Match[str]) -> str:
    return (match.group(1) or "") + REDACTED
