"""Credential-named request keys are stripped by rule (issue 9 item 3), not by a list."""

from __future__ import annotations

import json

import pytest
from audit_samples import sample_entry

from phaseroute.audit._codec import (
    _CREDENTIAL_NAME,
    KEPT_WITHOUT_ASKING,
    encode_record,
    is_credential_name,
    strip_secrets,
)

# Every spelling the issue found surviving, then the family around each credential word.
ISSUE_SPELLINGS = [
    "token",
    "auth_token",
    "session_token",
    "secret_key",
    "aws_secret_access_key",
    "private_key",
    "passwd",
    "bearer_token",
    "api-token",
    "credentials",
    "x-auth-token",
]
FAMILY = [
    "api_key",
    "apiKey",
    "API-KEY",
    "x-api-key",
    "X_Api_Key",
    "openai_api_key",
    "ANTHROPIC_API_KEY",
    "apikey",
    "Authorization",
    "proxy-authorization",
    "authorisation",
    "auth",
    "oauth",
    "xAuthToken",
    "AUTHTOKEN",
    "access_token",
    "accessToken",
    "refresh_token",
    "refresh_tokens",
    "id_token",
    "csrf-token",
    "secret",
    "client_secret",
    "clientSecret",
    "SECRET",
    "password",
    "Password",
    "db.password",
    "user password",
    "passphrase",
    "credential",
    "aws_credentials",
    "privateKey",
    "private-key",
    "signing_key",
    "aws_access_key_id",
    "cookie",
    "Set-Cookie",
    "bearer",
    "authenticator",
]
HARMLESS = [
    "max_tokens",
    "max_output_tokens",
    "maxTokens",
    "input_tokens",
    "cache_read_tokens",
    "tokenizer",
    "token_count",
    "author",
    "authors",
    "authored_by",
    "co-author",
    "authority",
    "messages",
    "content",
    "role",
    "temperature",
    "stop_sequences",
    "key",
    "cache_key",
    "model",
]


@pytest.mark.parametrize("name", ISSUE_SPELLINGS + FAMILY)
def test_credential_like_names_are_stripped(name: str) -> None:
    assert is_credential_name(name)
    request = {"params": {name: "sk-live-123", "temperature": 0}, "nested": [{name: "x"}]}
    clean, removed = strip_secrets(request)
    assert "sk-live-123" not in json.dumps(clean)
    assert clean == {"params": {"temperature": 0}, "nested": [{}]}
    assert sorted(removed) == sorted([f"params.{name}", f"nested[0].{name}"])


@pytest.mark.parametrize("name", HARMLESS)
def test_harmless_names_are_kept(name: str) -> None:
    assert not is_credential_name(name)
    clean, removed = strip_secrets({name: 7})
    assert clean == {name: 7}
    assert removed == []


def test_the_stored_record_holds_no_credential_value() -> None:
    request = {
        "messages": [{"role": "user", "content": "hi"}],
        "params": {"max_tokens": 5},
        "headers": {k: f"value-of-{k}" for k in ISSUE_SPELLINGS},
    }
    rec = encode_record(sample_entry(request=request), "2026-11-27T00:00:00.000000Z")
    assert rec.request_json is not None
    for k in ISSUE_SPELLINGS:
        assert f"value-of-{k}" not in rec.request_json
        assert f"value-of-{k}" not in rec.body
    assert json.loads(rec.request_json)["params"] == {"max_tokens": 5}
    assert len(json.loads(rec.body)["request_stripped_keys"]) == len(ISSUE_SPELLINGS)


@pytest.mark.parametrize("name", sorted(KEPT_WITHOUT_ASKING))
def test_the_shortcut_for_common_keys_agrees_with_the_rule(name: str) -> None:
    assert _CREDENTIAL_NAME.search(name.replace("_", "")) is None
