"""A credential an upstream echoes in an error never leaves the provider boundary: not in the
exception (nor the SDK error chained as its cause), not in `RoutingUnavailable`, not in the
ledger, not in the hash-chained audit record — for every status, streamed or not, through
the official SDKs against the local upstream."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_policies import wire_policy

from phaseroute.audit import AuditTrail
from phaseroute.errors import IncompleteResponse, ProviderError, RoutingUnavailable
from phaseroute.providers._secrets import Redactor
from phaseroute.runtime import RetryPolicy, Router
from phaseroute.testing.upstream import ECHO_KEY, Outcome, OutcomeKind, Upstream

# Not shaped like any well-known key: only the configured-value rule can catch it.
KEY = "corp-gw-7f3a9c2e51b04d88a6"
FOREIGN = ("sk-ant-api03-Zx9yW8vU7tS6rQ5p", "sk-proj-AbCdEfGh12345678", "eyJhbGciOi.payload.sig")
ECHO = (
    f"bad request from key {ECHO_KEY} (header x-api-key: {ECHO_KEY}; Authorization: Bearer "
    f"{FOREIGN[2]}; also seen {FOREIGN[0]} and {FOREIGN[1]})"
)
MODEL = "claude-sonnet-echo"
KINDS = [
    OutcomeKind.BAD_REQUEST,
    OutcomeKind.UNAUTHORIZED,
    OutcomeKind.FORBIDDEN,
    OutcomeKind.NOT_FOUND,
    OutcomeKind.UNPROCESSABLE,
    OutcomeKind.RATE_LIMITED,
    OutcomeKind.SPEND_LIMIT,
    OutcomeKind.SERVER_ERROR,
    OutcomeKind.OVERLOADED,
]
# 401/403 drop the upstream's message altogether; the others keep it, scrubbed.
KEEPS_MESSAGE = set(KINDS) - {OutcomeKind.UNAUTHORIZED, OutcomeKind.FORBIDDEN}


def policy(tmp_path: Path, upstream: Upstream, sdk: str) -> Path:
    return wire_policy(tmp_path, upstream.base_url, sdk, key=KEY, top=MODEL)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=3) as up:
        yield up


def leaks(text: str) -> list[str]:
    return [s for s in (KEY, *FOREIGN) if s in text]


def stored_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.glob("*.db*")))


@pytest.mark.parametrize("kind", KINDS, ids=str)
@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_an_echoed_key_is_scrubbed_everywhere(
    tmp_path: Path, upstream: Upstream, sdk: str, kind: OutcomeKind
) -> None:
    echo = Outcome(kind, message=ECHO, retry_after="0")
    audit = AuditTrail.open(tmp_path / "audit.db")
    router = Router.from_policy(
        policy(tmp_path, upstream, sdk),
        database=tmp_path / "usage.db",
        audit=audit,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.001, max_delay_s=0.002),
    )
    messages = [{"role": "user", "content": "case 1"}]
    texts: list[str] = []
    # 1. every attempt fails: the caller gets RoutingUnavailable
    upstream.program(MODEL, script=(echo, echo))
    with pytest.raises(RoutingUnavailable) as failed:
        router.complete("wf", "judge", messages)
    texts.append("".join(traceback.format_exception(failed.value)))
    texts.extend(a.error for a in failed.value.attempts)
    if kind in KEEPS_MESSAGE:
        assert "[redacted]" in str(failed.value)  # the echo did reach the error, scrubbed
    # 2. one failure then an answer (where a retry is allowed): the audited attempts
    upstream.program(MODEL, script=(echo,))
    try:
        result = router.complete("wf", "judge", messages)
    except RoutingUnavailable as e:
        texts.append("".join(traceback.format_exception(e)))
    else:
        assert result.audit_sequence is not None
        assert result.attempts[0].error is not None
        texts.extend(a.error or "" for a in result.attempts)
    router.close()
    audit.close()
    assert [leaks(t) for t in texts if leaks(t)] == []
    stored = stored_bytes(tmp_path)
    assert stored
    assert [s for s in (KEY, *FOREIGN) if s.encode() in stored] == []


@pytest.mark.parametrize("sdk", ["anthropic", "openai"])
def test_an_echoed_key_inside_a_200_stream_is_scrubbed(
    tmp_path: Path, upstream: Upstream, sdk: str
) -> None:
    audit = AuditTrail.open(tmp_path / "audit.db")
    router = Router.from_policy(
        policy(tmp_path, upstream, sdk), database=tmp_path / "usage.db", audit=audit
    )
    upstream.program(
        MODEL, script=(Outcome(OutcomeKind.STREAM_ERROR, message=ECHO, after_deltas=1),)
    )
    stream = router.stream("wf", "judge", [{"role": "user", "content": "case 2"}])
    with pytest.raises(IncompleteResponse) as broke:
        "".join(stream)
    text = "".join(traceback.format_exception(broke.value))
    assert "[redacted]" in str(broke.value)
    router.close()
    audit.close()
    assert leaks(text) == []
    assert [s for s in (KEY, *FOREIGN) if s.encode() in stored_bytes(tmp_path)] == []


def test_the_redactor_hides_keys_and_token_shapes_only() -> None:
    redact = Redactor.for_keys(KEY, "short", None)
    said = redact(f"{KEY} Bearer abc.def.ghi-123 sk-ant-api03-xyz12345 short sk-learn bearer x")
    assert said == "[redacted] Bearer [redacted] [redacted] short sk-learn bearer x"


def test_errors_raised_by_a_provider_are_scrubbed_before_they_exist(upstream: Upstream) -> None:
    from phaseroute.providers import AnthropicProvider, CompletionRequest, Message

    provider = AnthropicProvider(KEY, base_url=upstream.base_url, timeout=5)
    upstream.program("claude-direct-echo", script=(Outcome(OutcomeKind.BAD_REQUEST, message=ECHO),))
    request = CompletionRequest("claude-direct-echo", (Message("user", "hi"),))
    with pytest.raises(ProviderError) as info:
        provider.complete(request)
    provider.close()
    assert leaks("".join(traceback.format_exception(info.value))) == []
    assert isinstance(info.value.__cause__, Exception)  # the SDK error is kept, scrubbed
    assert "[redacted]" in str(info.value.__cause__)
