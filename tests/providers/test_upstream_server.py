"""The local upstream itself, seen through the official SDKs: wire shapes, scripts, faults."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest

from phaseroute.testing import ModelBehaviour, Outcome, OutcomeKind, Upstream, UpstreamRequest

MESSAGES = [{"role": "user", "content": "Summarise the alert."}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream(seed=3) as up:
        yield up


@pytest.fixture(scope="module")
def claude(upstream: Upstream) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        api_key="k", base_url=upstream.base_url, max_retries=0, timeout=5
    ) as c:
        yield c


@pytest.fixture(scope="module")
def gpt(upstream: Upstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        api_key="k", base_url=upstream.openai_base_url, max_retries=0, timeout=5
    ) as c:
        yield c


@pytest.fixture
def model(request: pytest.FixtureRequest) -> str:
    return "up-" + request.node.name


def test_messages_stream_has_the_real_event_sequence(
    upstream: Upstream, claude: anthropic.Anthropic, model: str
) -> None:
    upstream.program(model, reply="0123456789abcdef", chunk_chars=4, served_as="claude-served")
    stream = claude.messages.create(model=model, max_tokens=50, messages=MESSAGES, stream=True)
    types = [event.type for event in stream]
    assert types == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert stream.response.headers["request-id"].startswith("req_")
    assert stream.response.headers["content-type"].startswith("text/event-stream")


def test_messages_json_shape(upstream: Upstream, claude: anthropic.Anthropic, model: str) -> None:
    upstream.program(model, reply="fine", served_as="claude-served", cache_read_tokens=5)
    message = claude.messages.create(model=model, max_tokens=50, messages=MESSAGES)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-served"
    assert message.content[0].type == "text"
    assert message.stop_reason == "end_turn"
    assert message.usage.cache_read_input_tokens == 5
    assert message.usage.cache_creation_input_tokens == 0
    assert message._request_id is not None
    assert message.id.startswith("msg_")


def test_chat_stream_ends_with_usage_chunk_only_when_asked(
    upstream: Upstream, gpt: openai.OpenAI, model: str
) -> None:
    upstream.program(model, reply="abcdefgh", chunk_chars=4)
    with_usage = list(
        gpt.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[0].choices[0].delta.role == "assistant"
    assert with_usage[-2].choices[0].finish_reason == "stop"
    assert with_usage[-1].choices == []
    assert with_usage[-1].usage is not None
    assert with_usage[-1].usage.completion_tokens > 0
    without = list(gpt.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    assert all(chunk.usage is None for chunk in without)
    assert without[-1].choices[0].finish_reason == "stop"


def test_anthropic_error_bodies_and_headers(
    upstream: Upstream, claude: anthropic.Anthropic, model: str
) -> None:
    upstream.program(
        model,
        script=(
            Outcome.rate_limited(7),
            Outcome(OutcomeKind.SPEND_LIMIT),
            Outcome(OutcomeKind.OVERLOADED),
        ),
    )
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model=model, max_tokens=5, messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.type == "rate_limit_error"
    body = limited.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["request_id"] == limited.value.request_id
    with pytest.raises(anthropic.RateLimitError) as spent:
        claude.messages.create(model=model, max_tokens=5, messages=MESSAGES)
    assert "retry-after" not in spent.value.response.headers
    assert spent.value.error_code == "enforced_spend_limit_reached"
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        claude.messages.create(model=model, max_tokens=5, messages=MESSAGES)
    assert overloaded.value.status_code == 529
    assert overloaded.value.type == "overloaded_error"


def test_openai_error_bodies_and_headers(
    upstream: Upstream, gpt: openai.OpenAI, model: str
) -> None:
    upstream.program(
        model,
        script=(
            Outcome.rate_limited(retry_after_ms=300, retry_after=None),
            Outcome(OutcomeKind.SPEND_LIMIT),
        ),
    )
    with pytest.raises(openai.RateLimitError) as limited:
        gpt.chat.completions.create(model=model, messages=MESSAGES)
    assert limited.value.response.headers["retry-after-ms"] == "300"
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.request_id is not None
    with pytest.raises(openai.RateLimitError) as quota:
        gpt.chat.completions.create(model=model, messages=MESSAGES)
    assert quota.value.code == "insufficient_quota"
    assert "retry-after" not in quota.value.response.headers


def test_malformed_requests_get_real_400s(upstream: Upstream, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="messages"):
        claude.messages.create(model="m", max_tokens=5, messages=[])


def test_reply_callable_sees_the_request(
    upstream: Upstream, gpt: openai.OpenAI, model: str
) -> None:
    seen: list[UpstreamRequest] = []

    def reply(request: UpstreamRequest) -> str:
        seen.append(request)
        return request.last_user_text.upper()

    upstream.program(model, reply=reply)
    completion = gpt.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "sys"}, *MESSAGES]
    )
    assert completion.choices[0].message.content == "SUMMARISE THE ALERT."
    assert seen[0].system == "sys"
    assert seen[0].api == "openai"


def test_script_then_seeded_faults_are_reproducible(model: str) -> None:
    def run() -> list[str]:
        with Upstream(seed=11) as up:
            up.program(
                model,
                script=(Outcome(OutcomeKind.SERVER_ERROR),),
                faults={Outcome(OutcomeKind.OVERLOADED): 0.3, Outcome.rate_limited(1): 0.2},
            )
            client = anthropic.Anthropic(api_key="k", base_url=up.base_url, max_retries=0)
            outcomes = []
            for _ in range(60):
                try:
                    client.messages.create(model=model, max_tokens=5, messages=MESSAGES)
                    outcomes.append("ok")
                except anthropic.APIStatusError as e:
                    outcomes.append(str(e.status_code))
            client.close()
            assert up.requests(model) == 60
            return outcomes

    first = run()
    assert first == run()
    assert first[0] == "500"
    tally = Counter(first[1:])
    assert set(tally) == {"ok", "529", "429"}
    assert 8 <= tally["529"] <= 28  # 30% of 59, loosely


def test_concurrent_requests_are_counted_and_script_consumed_once(
    upstream: Upstream, model: str
) -> None:
    upstream.program(model, script=tuple(Outcome(OutcomeKind.OVERLOADED) for _ in range(25)))
    client = openai.OpenAI(api_key="k", base_url=upstream.openai_base_url, max_retries=0, timeout=5)

    def one(_: int) -> bool:
        try:
            client.chat.completions.create(model=model, messages=MESSAGES)
        except openai.InternalServerError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(100)))
    client.close()
    assert results.count(False) == 25
    assert upstream.requests(model) == 100
    assert upstream.counts()[model] == 100


def test_close_releases_hung_connections_quickly() -> None:
    up = Upstream(hang_limit_s=60).start()
    up.program("m", script=(Outcome(OutcomeKind.HANG),))
    client = anthropic.Anthropic(api_key="k", base_url=up.base_url, max_retries=0, timeout=30)
    failures: list[BaseException] = []

    def hang() -> None:
        try:
            client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
        except anthropic.APIConnectionError as e:
            failures.append(e)

    caller = threading.Thread(target=hang)
    caller.start()
    deadline = time.monotonic() + 5
    while up.requests("m") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.perf_counter()
    up.close()
    assert time.perf_counter() - started < 2
    caller.join(timeout=5)
    client.close()
    assert not caller.is_alive()
    assert len(failures) == 1  # the held connection was dropped, not answered


def test_hang_limit_bounds_a_hang_without_close() -> None:
    with Upstream(hang_limit_s=0.2) as up:
        up.program("m", script=(Outcome(OutcomeKind.HANG),))
        client = openai.OpenAI(api_key="k", base_url=up.openai_base_url, max_retries=0, timeout=10)
        started = time.perf_counter()
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert time.perf_counter() - started < 5
        client.close()


def test_programming_mistakes_are_rejected(upstream: Upstream) -> None:
    with pytest.raises(TypeError):
        upstream.program("m", no_such_field=1)
    with pytest.raises(ValueError, match="sum to <= 1"):
        ModelBehaviour(
            faults={Outcome(OutcomeKind.OVERLOADED): 0.8, Outcome(OutcomeKind.HANG): 0.5}
        )
    with pytest.raises(RuntimeError, match="not running"):
        _ = Upstream().base_url
