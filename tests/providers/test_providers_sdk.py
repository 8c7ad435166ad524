"""Anthropic and OpenAI-compatible providers, with the official SDKs talking to the local upstream.

Every call style (sync, async, stream, async stream) meets the same outcomes; every SDK
error must arrive as the right phaseroute error, after exactly one HTTP request.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from phaseroute.errors import (
    AuthenticationFailed,
    IncompleteResponse,
    InvalidProviderRequest,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RetryableProviderError,
    ServerError,
    SpendLimitReached,
)
from phaseroute.providers import (
    AnthropicProvider,
    CompletionRequest,
    CompletionResponse,
    Message,
    OpenAICompatProvider,
    Provider,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
    approximate_tokens,
)
from phaseroute.testing import Outcome, OutcomeKind, Upstream, http_date

KINDS = ["anthropic", "openai"]
MODES = ["sync", "async", "stream", "astream"]
KEY = "sk-test-0123456789abcdef"

AnyProvider = AnthropicProvider | OpenAICompatProvider
Make = Callable[..., AnyProvider]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=7) as up:
        yield up


@pytest.fixture
def model(request: pytest.FixtureRequest) -> str:
    """A model id unique to the test, so scripts and counts never leak between tests."""
    return "m-" + request.node.name


def maker(kind: str, up: Upstream) -> Make:
    def make(**kw: Any) -> AnyProvider:
        kw.setdefault("timeout", 5.0)
        if kind == "anthropic":
            return AnthropicProvider(kw.pop("api_key", KEY), base_url=up.base_url, **kw)
        return OpenAICompatProvider(kw.pop("api_key", KEY), base_url=up.openai_base_url, **kw)

    return make


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for the module, so async clients outlive a single call."""
    with asyncio.Runner() as r:
        yield r


@pytest.fixture(scope="module")
def shared(upstream: Upstream, runner: asyncio.Runner) -> Iterator[dict[str, AnyProvider]]:
    """One provider per kind for the module: building SDK clients costs ~70 ms each."""
    providers = {kind: maker(kind, upstream)() for kind in KINDS}
    yield providers
    for provider in providers.values():
        runner.run(provider.aclose())


@pytest.fixture
def provider(shared: dict[str, AnyProvider], kind: str) -> AnyProvider:
    return shared[kind]


def call(
    provider: AnyProvider, req: CompletionRequest, mode: str, runner: asyncio.Runner
) -> CompletionResponse:
    """One call in the given style; checks the stream's framing."""
    if mode == "sync":
        return provider.complete(req)
    if mode == "async":
        return runner.run(provider.acomplete(req))
    if mode == "stream":
        events = list(provider.stream(req))
    else:

        async def collect() -> list[StreamEvent]:
            return [e async for e in provider.astream(req)]

        events = runner.run(collect())
    *deltas, end = events
    assert isinstance(end, StreamEnd)
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == end.response.text
    return end.response


def call_once(make: Make, req: CompletionRequest, mode: str, **kw: Any) -> CompletionResponse:
    """A call on a provider built for it (special settings), closed afterwards."""
    provider = make(**kw)
    with asyncio.Runner() as runner:
        try:
            return call(provider, req, mode, runner)
        finally:
            runner.run(provider.aclose())


def ask(model: str, text: str = "Is this alert above threshold?", **kw: Any) -> CompletionRequest:
    return CompletionRequest(model=model, messages=(Message("user", text),), **kw)


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_answer_records_reported_model_request_id_usage_and_timing(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    mode: str,
) -> None:
    upstream.program(model, reply="The alert meets the threshold.", served_as=model + "-20250929")
    response = call(provider, ask(model, system="You review AML alerts."), mode, runner)
    assert response.text == "The alert meets the threshold."
    assert response.model_requested == model
    assert response.model_reported == model + "-20250929"
    assert response.provider == kind
    assert response.request_id is not None
    assert response.request_id.startswith("req_")
    assert response.stop_reason == "end_turn"  # normalised; the provider's word is kept
    assert response.stop_reason_raw == ("end_turn" if kind == "anthropic" else "stop")
    assert response.complete
    assert response.usage.output_tokens == approximate_tokens(response.text)
    prompt = "You review AML alerts.\nIs this alert above threshold?"
    assert response.usage.input_tokens == approximate_tokens(prompt)
    assert response.latency_s is not None
    assert response.first_token_s is not None
    assert 0 <= response.first_token_s <= response.latency_s
    assert upstream.requests(model) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_request_fields_reach_the_wire(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    mode: str,
) -> None:
    req = ask(model, system="sys prompt", max_tokens=321, temperature=0.25, stop=("###",))
    req = CompletionRequest(
        model=model,
        messages=(Message("user", "first"), Message("assistant", "ok"), Message("user", "second")),
        system=req.system,
        max_tokens=req.max_tokens,
        temperature=req.temperature,
        stop=req.stop,
        metadata={"item": "never-sent"},
    )
    call(provider, req, mode, runner)
    (seen,) = upstream.received(model)
    assert seen.api == kind
    assert seen.system == "sys prompt"
    assert seen.messages == (("user", "first"), ("assistant", "ok"), ("user", "second"))
    assert seen.max_tokens == 321
    assert seen.temperature == 0.25
    assert seen.stop == ("###",)
    assert seen.stream == mode.endswith("stream")
    assert "never-sent" not in repr(seen)
    if kind == "openai" and seen.stream:
        assert seen.include_usage


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_cache_tokens_are_reported_apart_from_input(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    mode: str,
) -> None:
    upstream.program(model, cache_read_tokens=1200, cache_write_tokens=300)
    response = call(provider, ask(model, "hello"), mode, runner)
    expected_write = 300 if kind == "anthropic" else 0  # Chat Completions reports reads only
    assert response.usage == Usage(
        input_tokens=approximate_tokens("\nhello"),
        output_tokens=approximate_tokens(response.text),
        cache_read_tokens=1200,
        cache_write_tokens=expected_write,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_stop_sequence_and_max_tokens_stop_reasons(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    mode: str,
) -> None:
    upstream.program(model, reply="alpha beta STOP gamma delta epsilon zeta eta theta")
    stopped = call(provider, ask(model, stop=("STOP",)), mode, runner)
    assert stopped.text == "alpha beta "
    # Chat Completions says "stop" for both a natural end and a stop sequence.
    assert stopped.stop_reason == ("stop_sequence" if kind == "anthropic" else "end_turn")
    assert stopped.stop_reason_raw == ("stop_sequence" if kind == "anthropic" else "stop")
    capped = call(provider, ask(model, max_tokens=3), mode, runner)
    assert capped.text == "alpha beta STOP"
    assert capped.stop_reason == "max_tokens"
    assert capped.stop_reason_raw == ("max_tokens" if kind == "anthropic" else "length")


@pytest.mark.parametrize("kind", KINDS)
def test_first_token_latency_is_measured_on_streams(
    upstream: Upstream, provider: AnyProvider, runner: asyncio.Runner, model: str, kind: str
) -> None:
    upstream.program(model, reply="x" * 40, first_token_delay_s=0.2, delta_delay_s=0.01)
    response = call(provider, ask(model), "stream", runner)
    assert response.first_token_s is not None
    assert response.latency_s is not None
    assert response.first_token_s >= 0.2
    assert response.latency_s > response.first_token_s


def test_openai_without_stream_usage_sends_no_stream_options(
    upstream: Upstream, model: str
) -> None:
    response = call_once(maker("openai", upstream), ask(model), "stream", stream_usage=False)
    assert upstream.received(model)[0].include_usage is False
    assert response.usage == Usage()
    assert response.text


def test_providers_satisfy_the_protocol(upstream: Upstream) -> None:
    for kind in KINDS:
        provider = maker(kind, upstream)()
        assert isinstance(provider, Provider)
        provider.close()


# --------------------------------------------------------------------------- errors

ERROR_CASES: list[tuple[str, Outcome, type[ProviderError], float | None]] = [
    ("400", Outcome(OutcomeKind.BAD_REQUEST), InvalidProviderRequest, None),
    ("401", Outcome(OutcomeKind.UNAUTHORIZED), AuthenticationFailed, None),
    ("403", Outcome(OutcomeKind.FORBIDDEN), AuthenticationFailed, None),
    ("404", Outcome(OutcomeKind.NOT_FOUND), InvalidProviderRequest, None),
    ("422", Outcome(OutcomeKind.UNPROCESSABLE), InvalidProviderRequest, None),
    ("429-seconds", Outcome.rate_limited(3), RateLimited, 3.0),
    ("429-fraction", Outcome.rate_limited("0.5"), RateLimited, 0.5),
    ("429-ms", Outcome.rate_limited(None, retry_after_ms=1500), RateLimited, 1.5),
    ("429-ms-wins", Outcome.rate_limited(9, retry_after_ms=250), RateLimited, 0.25),
    ("429-bare", Outcome.rate_limited(None), RateLimited, None),
    ("429-spend", Outcome(OutcomeKind.SPEND_LIMIT), SpendLimitReached, None),
    ("500", Outcome(OutcomeKind.SERVER_ERROR), ServerError, None),
    ("503", Outcome(OutcomeKind.SERVER_ERROR, status=503, retry_after="2"), ServerError, 2.0),
    ("overloaded", Outcome(OutcomeKind.OVERLOADED), Overloaded, None),
    (
        "overloaded-529",
        Outcome(OutcomeKind.OVERLOADED, status=529, retry_after="1"),
        Overloaded,
        1.0,
    ),
]


STATUS = {
    OutcomeKind.BAD_REQUEST: 400,
    OutcomeKind.UNAUTHORIZED: 401,
    OutcomeKind.FORBIDDEN: 403,
    OutcomeKind.NOT_FOUND: 404,
    OutcomeKind.UNPROCESSABLE: 422,
    OutcomeKind.RATE_LIMITED: 429,
    OutcomeKind.SPEND_LIMIT: 429,
    OutcomeKind.SERVER_ERROR: 500,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("case", "outcome", "error", "retry_after"), ERROR_CASES)
def test_http_errors_map_onto_the_error_tree_after_one_request(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    mode: str,
    case: str,
    outcome: Outcome,
    error: type[ProviderError],
    retry_after: float | None,
) -> None:
    upstream.program(model, script=(outcome,))
    with pytest.raises(error) as caught:
        call(provider, ask(model), mode, runner)
    e = caught.value
    assert type(e) is error, case
    assert e.provider == kind
    assert e.model == model
    overloaded_status = 529 if kind == "anthropic" else 503
    assert e.status_code == (outcome.status or STATUS.get(outcome.kind, overloaded_status))
    assert e.request_id is not None
    assert e.request_id.startswith("req_")
    assert isinstance(e.__cause__, Exception)  # raised `from` the SDK error
    if isinstance(e, RetryableProviderError):
        assert e.retry_after == retry_after
    assert not isinstance(e, SpendLimitReached) or not isinstance(e, RetryableProviderError)
    assert upstream.requests(model) == 1  # the SDK retried nothing: max_retries=0


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_as_http_date(
    upstream: Upstream, provider: AnyProvider, runner: asyncio.Runner, model: str, kind: str
) -> None:
    upstream.program(model, script=(Outcome.rate_limited(http_date(time.time() + 30)),))
    with pytest.raises(RateLimited) as caught:
        call(provider, ask(model), "sync", runner)
    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 30


@pytest.mark.parametrize("kind", KINDS)
def test_spend_limit_is_not_retryable_and_named(
    upstream: Upstream, provider: AnyProvider, runner: asyncio.Runner, model: str, kind: str
) -> None:
    upstream.program(model, script=(Outcome(OutcomeKind.SPEND_LIMIT),))
    with pytest.raises(SpendLimitReached) as caught:
        call(provider, ask(model), "sync", runner)
    assert not isinstance(caught.value, RetryableProviderError)
    code = "enforced_spend_limit_reached" if kind == "anthropic" else "insufficient_quota"
    assert code in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_rejected_key_never_appears_in_the_error(kind: str) -> None:
    with Upstream(api_key="the-right-key") as up:
        secret = "sk-live-SECRETSECRETSECRET"
        with pytest.raises(AuthenticationFailed) as caught:
            call_once(maker(kind, up), ask("m"), "sync", api_key=secret)
        assert "SECRET" not in str(caught.value)
        assert caught.value.status_code == 401
        ok = call_once(maker(kind, up), ask("m"), "sync", api_key="the-right-key")
        assert ok.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_hung_connection_times_out_within_the_configured_timeout(
    upstream: Upstream, model: str, kind: str, mode: str
) -> None:
    upstream.program(model, script=(Outcome(OutcomeKind.HANG),))
    started = time.perf_counter()
    with pytest.raises(ProviderTimeout):
        call_once(maker(kind, upstream), ask(model), mode, timeout=0.3)
    elapsed = time.perf_counter() - started
    assert 0.25 <= elapsed < 1.5


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_connection_is_a_connection_error_not_a_timeout(kind: str, mode: str) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    if kind == "anthropic":
        make: Make = lambda: AnthropicProvider(KEY, base_url=base, timeout=5.0)  # noqa: E731
    else:
        make = lambda: OpenAICompatProvider(KEY, base_url=base + "/v1", timeout=5.0)  # noqa: E731
    with pytest.raises(ProviderConnectionError, match="connection failed"):
        call_once(make, ask("m"), mode)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_stream_that_stalls_midway_is_incomplete(
    upstream: Upstream, model: str, kind: str, mode: str
) -> None:
    upstream.program(model, reply="a" * 64, delta_delay_s=3.0)
    with pytest.raises(IncompleteResponse, match="no data within the timeout"):
        call_once(maker(kind, upstream), ask(model), mode, timeout=0.3)


def drain(
    provider: AnyProvider,
    req: CompletionRequest,
    mode: str,
    runner: asyncio.Runner,
    seen: list[StreamEvent],
) -> None:
    """Consume a stream into `seen`, so the events before a failure stay visible."""
    if mode == "stream":
        seen.extend(provider.stream(req))
        return

    async def consume() -> None:
        async for event in provider.astream(req):
            seen.append(event)

    runner.run(consume())


STREAM_FAULTS = [
    (Outcome(OutcomeKind.CUT_OFF), "connection lost"),
    (Outcome(OutcomeKind.CUT_OFF, after_deltas=0), "connection lost"),
    (Outcome(OutcomeKind.EARLY_END), "ended"),
    (Outcome(OutcomeKind.EARLY_END, after_deltas=100), "ended"),  # all text, then no end
    (Outcome(OutcomeKind.STREAM_ERROR), "error event"),
]


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("outcome", "said"), STREAM_FAULTS)
def test_broken_streams_raise_incomplete_response_never_a_complete_answer(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    mode: str,
    outcome: Outcome,
    said: str,
) -> None:
    upstream.program(model, reply="partial answer that never finishes", script=(outcome,))
    seen: list[StreamEvent] = []
    with pytest.raises(IncompleteResponse, match=said) as caught:
        drain(provider, ask(model), mode, runner, seen)
    assert any(isinstance(e, TextDelta) for e in seen) == (outcome.after_deltas > 0)
    assert not any(isinstance(e, StreamEnd) for e in seen)
    assert caught.value.provider == kind
    assert upstream.requests(model) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (Outcome(OutcomeKind.CUT_OFF), ProviderConnectionError),
        (Outcome(OutcomeKind.EARLY_END), ProviderConnectionError),
        (Outcome(OutcomeKind.STREAM_ERROR), Overloaded),
    ],
)
def test_stream_faults_on_plain_calls(
    upstream: Upstream,
    provider: AnyProvider,
    runner: asyncio.Runner,
    model: str,
    kind: str,
    outcome: Outcome,
    error: type[ProviderError],
) -> None:
    upstream.program(model, script=(outcome,))
    with pytest.raises(error):
        call(provider, ask(model), "sync", runner)


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_endpoint_is_a_connection_error(kind: str) -> None:
    with Upstream() as up:
        provider = maker(kind, up)(timeout=2.0)
    # The server is closed now: nothing listens on the port.
    with pytest.raises(ProviderConnectionError):
        provider.complete(ask("m"))
    provider.close()


@pytest.mark.parametrize("kind", KINDS)
def test_stopping_a_stream_early_releases_the_connection(
    upstream: Upstream, model: str, kind: str
) -> None:
    upstream.program(model, reply="word " * 200, chunk_chars=5)
    provider = maker(kind, upstream)()
    stream = provider.stream(ask(model))
    first = next(stream)
    assert isinstance(first, TextDelta)
    stream.close()  # type: ignore[attr-defined]
    again = provider.complete(ask(model, "next"))
    provider.close()
    assert again.text
    assert upstream.requests(model) == 2
