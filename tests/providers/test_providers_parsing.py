"""Retry-after parsing, secret references and the offline token approximation."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from phaseroute.errors import SecretError, UserError
from phaseroute.providers import approximate_tokens, parse_retry_after, resolve_secret
from phaseroute.providers._tokens import truncate_to_tokens
from phaseroute.testing import http_date

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after": " 12 "}, 12.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # ms is more precise: it wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": http_date(NOW + 42)}, 42.0),
        ({"retry-after": http_date(NOW - 42)}, 0.0),  # a date in the past: go now
        ({"retry-after": "Tue, 14 Nov 2023 22:14:20 -0000"}, 60.0),  # zone-less: GMT
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "tomorrow"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx2.Headers(headers), now=NOW) == expected


def test_parse_retry_after_http_date_uses_the_clock() -> None:
    wait = parse_retry_after({"retry-after": http_date(time.time() + 60)})
    assert wait is not None
    assert 55 <= wait <= 60


def test_env_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PHASEROUTE_TEST_KEY", " sk-abc \n")
    assert resolve_secret("env:PHASEROUTE_TEST_KEY", tmp_path) == "sk-abc"


def test_missing_env_secret_names_the_variable_not_a_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PHASEROUTE_TEST_MISSING", raising=False)
    with pytest.raises(SecretError, match="PHASEROUTE_TEST_MISSING is not set") as caught:
        resolve_secret("env:PHASEROUTE_TEST_MISSING", tmp_path)
    assert isinstance(caught.value, UserError)
    assert "export PHASEROUTE_TEST_MISSING" in str(caught.value)


def test_file_secret_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "anthropic.key").write_text("sk-ant-123\n", encoding="utf-8")
    assert resolve_secret("file:keys/anthropic.key", tmp_path) == "sk-ant-123"
    assert resolve_secret(f"file:{tmp_path / 'keys' / 'anthropic.key'}", Path("/")) == "sk-ant-123"


def test_missing_or_empty_secret_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="cannot read secret file") as caught:
        resolve_secret("file:nope.key", tmp_path)
    assert str(tmp_path / "nope.key") in str(caught.value)
    (tmp_path / "empty.key").write_text("  \n", encoding="utf-8")
    with pytest.raises(SecretError, match="secret file is empty"):
        resolve_secret("file:empty.key", tmp_path)


@pytest.mark.parametrize(
    "ref", ["ANTHROPIC_API_KEY", "env:", "sk-live-abcdef", "vault:kv/anthropic"]
)
def test_malformed_secret_reference(ref: str, tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="env:") as caught:
        resolve_secret(ref, tmp_path)
    assert caught.value.problems[0].fix


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("Hello world", 2),
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("don't", 2),
        ("12345678", 3),
        ("internationalization", 4),
    ],
)
def test_approximate_tokens_known_values(text: str, tokens: int) -> None:
    assert approximate_tokens(text) == tokens


@given(st.text(max_size=300), st.text(max_size=300))
def test_approximate_tokens_grows_with_text(a: str, b: str) -> None:
    # Joining can merge pieces at the seam, so allow one token of slack each side.
    assert approximate_tokens(a + " " + b) >= approximate_tokens(a) - 1
    assert approximate_tokens(a) >= 0


@given(st.text(max_size=300), st.integers(min_value=0, max_value=80))
def test_truncate_to_tokens_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = truncate_to_tokens(text, limit)
    assert text.startswith(cut)
    assert approximate_tokens(cut) <= limit
    if approximate_tokens(text) <= limit:
        assert cut == text
