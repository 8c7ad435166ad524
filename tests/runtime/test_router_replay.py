"""Routers built from policies: replay providers over recorded outcomes (no key, no
network), lazily resolved secrets, and the runtime package's public names."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from project_paths import AML_POLICY

from phaseroute.errors import RequestError, SecretError
from phaseroute.providers import ReplayProvider
from phaseroute.runtime import Router
from phaseroute.testing.fake import FakeProvider, MemoryAuditTrail

REPLAY_POLICY = """
version: 1
tiers: [cheap, mid, strong]
providers:
  recorded: {{type: replay, outcomes: {outcomes}}}
models:
  a: {{provider: recorded, id: model-a, tier: cheap,
      price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
  b: {{provider: recorded, id: model-b, tier: mid,
      price: {{input_per_mtok: 3, output_per_mtok: 6}}}}
  c: {{provider: recorded, id: model-c, tier: strong,
      price: {{input_per_mtok: 9, output_per_mtok: 18}}}}
workflows:
  quiz:
    phases:
      answer: {{kind: screening, catastrophic_error: throughput, caught_by: check}}
      check: {{kind: review, catastrophic_error: missed_risk}}
"""


def test_three_recorded_models_with_judge_scores_are_served(tmp_path: Path) -> None:
    rows = [
        {"phase": "p", "item": f"i{n}", "prompt": f"question {n}?",
         "scores": {"model-a": n % 10 + 1, "model-b": 5, "model-c": 10},
         "responses": {"model-a": "short", "model-b": "a longer answer", "model-c": "best"}}
        for n in range(5)
    ]  # fmt: skip
    (tmp_path / "three.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    policy = tmp_path / "policy.yaml"
    policy.write_text(REPLAY_POLICY.format(outcomes="three.jsonl"))
    with Router.from_policy(policy, database=tmp_path / "u.db") as router:
        cheap = router.complete("quiz", "answer", [{"role": "user", "content": "question 3?"}])
        strong = router.complete("quiz", "check", [{"role": "user", "content": "question 3?"}])
        assert (cheap.model, cheap.text) == ("a", "short")
        assert (strong.model, strong.text) == ("c", "best")
        assert cheap.response.recorded_score == 4
        assert cheap.cost is not None
        assert strong.counterfactual_cost is not None
        assert cheap.counterfactual_cost is not None
        assert cheap.cost < cheap.counterfactual_cost


def test_mmlu_is_replayed_for_both_models_through_call_model(
    tmp_path: Path, mmlu_path: Path
) -> None:
    text = (
        "version: 1\ntiers: [cheap, strong]\n"
        f"providers: {{recorded: {{type: replay, outcomes: {mmlu_path}}}}}\n"
        "models:\n"
        "  mixtral: {provider: recorded, id: mistralai/Mixtral-8x7B-Instruct-v0.1, tier: cheap}\n"
        "  gpt4: {provider: recorded, id: gpt-4-1106-preview, tier: strong}\n"
        "workflows: {w: {phases: {p: {kind: review, catastrophic_error: missed_risk}}}}\n"
    )
    policy = tmp_path / "mmlu.yaml"
    policy.write_text(text)
    replay = ReplayProvider(mmlu_path, name="recorded")
    item = replay.outcomes.items[0]
    with Router.from_policy(policy, database=tmp_path / "u.db") as router:
        from phaseroute.providers import CompletionRequest, Message

        request = CompletionRequest(model="", messages=(Message("user", item.prompt),))
        for name, model_id in (("mixtral", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
                               ("gpt4", "gpt-4-1106-preview")):  # fmt: skip
            result = router.call_model(name, request, workflow="measure", phase=item.phase)
            assert result.response.recorded_score == item.scores[model_id]
            assert result.usage.input_tokens > 0
            assert result.cost is not None  # both are in the price catalogue
        router.ledger.flush()  # type: ignore[union-attr]
        rows = router.ledger.records(workflow="measure")  # type: ignore[union-attr]
        assert [r["model"] for r in rows] == ["mixtral", "gpt4"]


def test_anthropic_policy_loads_without_a_key_and_fails_clearly_on_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    policy = tmp_path / "aml.yaml"
    policy.write_text(AML_POLICY.read_text())
    router = Router.from_policy(policy, database=tmp_path / "u.db", audit=MemoryAuditTrail())
    assert router.decide("aml_alert_review", "intake_screening").model == "haiku"
    with pytest.raises(SecretError, match="ANTHROPIC_API_KEY"):
        router.complete("aml_alert_review", "intake_screening", [{"role": "user", "content": "x"}])
    router.close()


def test_overriding_an_unknown_provider_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "aml.yaml"
    policy.write_text(AML_POLICY.read_text())
    with pytest.raises(RequestError, match="'openai' not in the policy's providers"):
        Router.from_policy(policy, providers={"openai": FakeProvider("openai")})


def test_runtime_public_names_exist() -> None:
    module = importlib.import_module("phaseroute.runtime")
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        assert hasattr(module, name), name
