"""Health, readiness, the model listing in each protocol's shape, count_tokens, the
x-phaseroute-* headers with audit sequence and cost, case ids into ledger and audit, and a
policy reload with its hash change audited."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest
from conftest import Clients
from gateway_support import KEY_ENV, UPSTREAM_KEY, Served, free_port, serve, write_policy

from phaseroute.audit import AuditTrail, records_for_case
from phaseroute.gateway import Gateway
from phaseroute.policy import load_plan
from phaseroute.providers import AnthropicProvider
from phaseroute.providers._base import Provider
from phaseroute.runtime import RetryPolicy, Router
from phaseroute.runtime._providers import LazyProvider
from phaseroute.testing import Upstream


def test_health_readiness_and_head(gateway: Served) -> None:
    assert httpx2.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    ready = httpx2.get(f"{gateway.url}/readyz").json()
    assert ready == {"status": "ready", "policy_hash": gateway.gateway.served.policy_hash}
    head = httpx2.head(f"{gateway.url}/")
    assert head.status_code == 200
    assert head.content == b""


def test_models_are_listed_in_each_protocols_shape(gateway: Served, clients: Clients) -> None:
    ant = clients.anthropic(gateway.url)
    ids = [m.id for m in ant.models.list()]
    assert ids[:3] == ["coding/planning", "coding/execution", "coding/review"]
    assert "claude-opus-*" in ids
    oai = clients.openai(gateway.openai_url)
    listed = oai.models.list()
    assert [m.id for m in listed] == ids
    assert all(m.owned_by == "phaseroute" for m in listed)


def test_count_tokens_answers_for_a_phase(gateway: Served, clients: Clients) -> None:
    ant = clients.anthropic(gateway.url)
    counted = ant.messages.count_tokens(
        model="claude-sonnet-5-2", messages=[{"role": "user", "content": "count these words"}]
    )
    assert counted.input_tokens > 0
    with pytest.raises(anthropic.NotFoundError):
        ant.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "x"}])


@pytest.fixture(scope="module")
def priced(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway whose policy prices its models and keeps a signed-off audit trail."""
    directory = tmp_path_factory.mktemp("priced")
    policy = write_policy(directory, upstream)
    text = policy.read_text(encoding="utf-8")
    text = text.replace(
        "haiku: {provider: ant, id: claude-haiku-test, tier: cheap}",
        "haiku: {provider: ant, id: claude-haiku-test, tier: cheap, "
        "price: {input_per_mtok: 1, output_per_mtok: 5}}",
    ).replace(
        "opus: {provider: ant, id: claude-opus-test, tier: top}",
        "opus: {provider: ant, id: claude-opus-test, tier: top, "
        "price: {input_per_mtok: 5, output_per_mtok: 25}}",
    )
    policy.write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy) as served:
            yield served


def test_headers_carry_cost_and_audit_sequence_and_the_case_reaches_ledger_and_audit(
    priced: Served,
) -> None:
    response = httpx2.post(
        f"{priced.url}/v1/messages",
        json={
            "model": "coding/review",
            "max_tokens": 40,
            "messages": [{"role": "user", "content": "review the change"}],
        },
        headers={"x-phaseroute-case": "CASE-7"},
    )
    assert response.status_code == 200
    seq = int(response.headers["x-phaseroute-audit-seq"])
    assert float(response.headers["x-phaseroute-cost-usd"]) > 0
    assert response.headers["x-phaseroute-tier"] == "top"
    router = priced.gateway.served.router
    assert isinstance(router.audit, AuditTrail)
    (record,) = records_for_case(router.audit.store, "CASE-7")
    assert record.seq == seq
    assert record.fields["phase"] == "review"
    ledger = priced.ledger
    assert ledger is not None
    ledger.flush()
    assert any(r["case_id"] == "CASE-7" for r in ledger.records())


def test_a_reload_swaps_the_policy_and_audits_the_hash_change(
    upstream: Upstream, tmp_path: Path, clients: Clients
) -> None:
    policy = write_policy(tmp_path, upstream)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        with serve(policy) as served:
            old = served.gateway.served.policy_hash
            text = policy.read_text(encoding="utf-8")
            policy.write_text(
                text.replace('"gpt-4o*": support/answer', '"gpt-4o*": support/triage'),
                encoding="utf-8",
            )
            before, after = asyncio.run_coroutine_threadsafe(
                served.gateway.reload(), _loop(served)
            ).result(30)
            assert before == old
            assert after != old
            assert httpx2.get(f"{served.url}/readyz").json()["policy_hash"] == after
            client = clients.openai(served.openai_url)
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
            )
            assert raw.headers["x-phaseroute-phase"] == "support/triage"
            assert raw.headers["x-phaseroute-policy-hash"] == after
            audit = served.gateway.served.router.audit
            assert isinstance(audit, AuditTrail)
            with audit.store.snapshot() as snap:
                bodies = [json.loads(r.body) for r in snap.records()]
            reloads = [b for b in bodies if b["phase"] == "(policy reload)"]
            assert reloads
            assert reloads[-1]["policy_hash"] == after

            # a policy that no longer compiles leaves the running one in place
            policy.write_text(text.replace("tiers: [cheap, top]", "tiers: [cheap]"), "utf-8")
            with pytest.raises(Exception, match="tiers"):
                asyncio.run_coroutine_threadsafe(served.gateway.reload(), _loop(served)).result(30)
            assert served.gateway.served.policy_hash == after


def test_a_policy_changed_while_no_gateway_ran_is_recorded_at_start(
    upstream: Upstream, tmp_path: Path
) -> None:
    """An edited policy between two runs (or every worker restarted by SIGHUP under
    --workers N) is recorded once, naming both hashes; an unchanged one adds nothing."""
    policy = write_policy(tmp_path, upstream)
    review = {
        "model": "coding/review",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "review"}],
    }

    def starts() -> list[dict[str, object]]:
        with serve(policy) as served:
            audit = served.gateway.served.router.audit
            assert isinstance(audit, AuditTrail)
            with audit.store.snapshot() as snap:
                bodies = [json.loads(r.body) for r in snap.records()]
            if not bodies:  # leave a record under this run's policy
                assert httpx2.post(f"{served.url}/v1/messages", json=review).status_code == 200
        return [b for b in bodies if b["phase"] == "(policy change at start)"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, UPSTREAM_KEY)
        assert starts() == []
        first = load_plan(policy).policy_hash
        text = policy.read_text(encoding="utf-8")
        policy.write_text(text.replace('"gpt-4o*": support/answer', '"gpt-4o*": support/triage'))
        second = load_plan(policy).policy_hash
        (change,) = starts()
        assert change["policy_hash"] == second
        assert change["reasons"] == [f"policy hash {first} -> {second}"]
        assert len(starts()) == 1  # unchanged since: nothing more


def _loop(served: Served) -> asyncio.AbstractEventLoop:
    """The event loop the served gateway runs on."""
    return served.server.servers[0].get_loop()  # type: ignore[no-any-return]


def test_a_call_before_ready_waits_for_the_providers(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server listens before its providers are built (their SDK imports take seconds);
    a call that arrives meanwhile waits for them without holding up the server (`/healthz`
    still answers), and is answered once they are — on its first attempt."""
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    policy = write_policy(tmp_path, upstream)
    building = threading.Event()

    def slow_build() -> Provider:
        building.set()
        time.sleep(4.0)  # an SDK import on a busy machine
        return AnthropicProvider(UPSTREAM_KEY, base_url=upstream.base_url, name="ant")

    router = Router.from_policy(
        policy,
        providers={"ant": LazyProvider("ant", slow_build)},
        build_providers_now=False,
        retry=RetryPolicy(max_attempts=1, attempt_timeout_s=2.0),
    )
    served = Served(Gateway(router, policy_path=policy), free_port())
    served.thread.start()
    answers: list[httpx2.Response] = []

    def call() -> None:
        answers.append(
            httpx2.post(
                f"{served.url}/v1/messages",
                json={
                    "model": "coding/execution",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": "before ready"}],
                },
                headers={"anthropic-version": "2023-06-01"},
                timeout=30,
            )
        )

    try:
        deadline = time.monotonic() + 30
        while not served.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert building.wait(30)
        assert httpx2.get(f"{served.url}/readyz").json() == {"status": "starting"}
        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.3)  # the call is in, waiting for the providers
        assert httpx2.get(f"{served.url}/healthz", timeout=1.5).status_code == 200
        caller.join(30)
        assert len(answers) == 1
        assert answers[0].status_code == 200, answers[0].text
        assert served.gateway.ready
    finally:
        served.stop()
