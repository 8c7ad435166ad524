"""Per-item routing end to end: the policy opts a phase in, `measure --outcomes` certifies it
into the lock file, the compiler and `explain` show it, and the router scores each call and
records the predictor, score and threshold; lint errors name the dotted path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from routing_data import write_recorded

from phaseroute.cli._app import run
from phaseroute.errors import PolicyError
from phaseroute.policy import compile_policy, load_plan, load_policy, read_lock
from phaseroute.runtime import Router
from phaseroute.testing.fake import MemoryAuditTrail

POLICY: dict[str, Any] = {
    "version": 1,
    "tiers": ["cheap", "mid", "top"],
    "providers": {"rec": {"type": "replay", "outcomes": "recorded.jsonl"}},
    "models": {
        "small": {"provider": "rec", "id": "model-s", "tier": "cheap",
                  "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
        "medium": {"provider": "rec", "id": "model-m", "tier": "mid",
                   "price": {"input_per_mtok": 3, "output_per_mtok": 6}},
        "large": {"provider": "rec", "id": "model-l", "tier": "top",
                  "price": {"input_per_mtok": 9, "output_per_mtok": 18}},
    },
    "controls": {"human": {"description": "an analyst reads every case"}},
    "audit": {"signing_key": "env:PHASEROUTE_TEST_AUDIT_KEY"},  # tests inject the trail
    "workflows": {
        "wf": {
            "phases": {
                "screen": {
                    "kind": "judgment",
                    "catastrophic_error": "throughput",
                    "route": {"per_item": {"max_loss": 0.05, "delta": 0.05}},
                },
                "decide": {"kind": "judgment", "catastrophic_error": "missed_risk"},
                "interpret": {
                    "kind": "interpretation",
                    "catastrophic_error": "missed_risk",
                    "audit": True,
                },
            }
        }
    },
}  # fmt: skip


def _policy(tmp_path: Path, data: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data or POLICY, sort_keys=False))
    return path


def _phase(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["workflows"]["wf"]["phases"][name]  # type: ignore[no-any-return]


@pytest.fixture
def measured(tmp_path: Path) -> Path:
    write_recorded(
        tmp_path / "recorded.jsonl", {"screen": 1200}, ["model-s", "model-m", "model-l"], seed=3
    )
    policy = _policy(tmp_path)
    assert run(["measure", str(policy), "--outcomes", str(tmp_path / "recorded.jsonl")]) == 0
    return policy


def test_measure_certifies_the_opted_in_phase_into_the_lock(measured: Path) -> None:
    lock = read_lock(measured.with_name("policy.lock.json"))
    entry = lock.per_item["wf"]["screen"]
    assert entry.threshold is not None
    assert entry.candidates == ("small", "medium")
    assert entry.fit_items + entry.certification_items == 1200
    assert 0.0 < entry.cheap_share < 1.0
    text = measured.with_name("policy.lock.json").read_text()
    assert "pickle" not in text
    assert entry.predictor["hashing"]["hash"] == "crc32"


def test_explain_shows_the_certified_figures(
    measured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["explain", str(measured)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Per-item routing (certified)" in out
    assert "P(quality loss > 5.0% of the top tier) ≤ 0.05" in out
    decision = load_plan(measured).decision("wf", "screen")
    assert decision.per_item is not None
    assert decision.model.name == "large"


def test_the_router_scores_each_call_and_records_it(measured: Path, tmp_path: Path) -> None:
    plan = load_plan(measured)
    item = plan.decision("wf", "screen").per_item
    assert item is not None
    rows = [json.loads(line) for line in (tmp_path / "recorded.jsonl").read_text().splitlines()]
    prompts = sorted({r["prompt"] for r in rows}, key=lambda t: max(item.predictor.score(t)))
    hard, easy = prompts[0], prompts[-1]
    with Router.from_policy(
        measured, database=tmp_path / "usage.db", audit=MemoryAuditTrail()
    ) as router:
        cheap = router.complete("wf", "screen", [{"role": "user", "content": easy}])
        top = router.complete("wf", "screen", [{"role": "user", "content": hard}])
        assert router.ledger is not None
        router.ledger.flush()
        records = router.ledger.records(phase="screen")
    assert cheap.decision.item is not None
    assert cheap.decision.item.routed_to in ("small", "medium")
    assert cheap.model == cheap.decision.item.routed_to
    assert cheap.decision.item.score >= item.threshold
    assert top.decision.item is not None
    assert top.decision.item.routed_to is None
    assert top.model == "large"
    assert cheap.decision.item.predictor_sha256 == item.predictor.sha256
    assert [r["item_predictor"] for r in records] == [item.predictor.sha256] * 2
    assert {r["item_threshold"] for r in records} == {item.threshold}


def test_editing_epsilon_makes_the_certificate_stale(measured: Path) -> None:
    data = yaml.safe_load(measured.read_text())
    _phase(data, "screen")["route"]["per_item"]["max_loss"] = 0.1
    measured.write_text(yaml.safe_dump(data, sort_keys=False))
    decision = load_plan(measured).decision("wf", "screen")
    assert decision.per_item is None
    assert any("stale" in w for w in decision.warnings)


def test_a_hand_edited_predictor_is_not_used(measured: Path) -> None:
    path = measured.with_name("policy.lock.json")
    lock = json.loads(path.read_text())
    lock["per_item"]["wf"]["screen"]["predictor"]["candidates"][0]["intercept"] += 1.0
    path.write_text(json.dumps(lock))
    decision = load_plan(measured).decision("wf", "screen")
    assert decision.per_item is None
    assert any("does not match its hash" in w for w in decision.warnings)


def test_a_predictor_in_an_older_format_is_named_as_such_not_skipped(measured: Path) -> None:
    path = measured.with_name("policy.lock.json")
    lock = json.loads(path.read_text())
    lock["per_item"]["wf"]["screen"]["predictor"]["format"] = "phaseroute-item-predictor/1"
    path.write_text(json.dumps(lock))
    decision = load_plan(measured).decision("wf", "screen")
    assert decision.per_item is None
    (warning,) = [w for w in decision.warnings if "per-item" in w]
    assert "cannot be read" in warning
    assert "phaseroute-item-predictor/1" in warning
    assert "re-run measure" in warning


@pytest.mark.parametrize(
    ("phase", "change", "message"),
    [
        ("interpret", {}, "never allowed for an audit phase"),
        ("decide", {}, "needs its loss measured as recall on positives"),
        ("screen", {"tier": "cheap"}, "cannot be combined with a hand-chosen tier"),
    ],
)
def test_lint_names_the_path_and_the_fix(
    tmp_path: Path, phase: str, change: dict[str, Any], message: str
) -> None:
    data = json.loads(json.dumps(POLICY))
    _phase(data, phase)["route"] = {"per_item": {"max_loss": 0.05}, **change}
    with pytest.raises(PolicyError) as caught:
        compile_policy(load_policy(_policy(tmp_path, data)))
    problem = next(p for p in caught.value.problems if message in p.message)
    assert problem.path == f"workflows.wf.phases.{phase}.route.per_item"
    assert problem.line is not None
    assert problem.fix


def test_missed_risk_on_recall_may_opt_in(tmp_path: Path) -> None:
    data = json.loads(json.dumps(POLICY))
    _phase(data, "decide")["route"] = {"per_item": {"max_loss": 0.05}}
    _phase(data, "decide")["quality"] = {"metric": "recall", "positive_label": "risk"}
    plan = compile_policy(load_policy(_policy(tmp_path, data)))
    assert any("per-item" in w for w in plan.decision("wf", "decide").warnings)


def test_an_unknown_per_item_key_names_the_path(tmp_path: Path) -> None:
    data = json.loads(json.dumps(POLICY))
    _phase(data, "screen")["route"] = {"per_item": {"max_loss": 0.05, "epsilon": 0.1}}
    with pytest.raises(PolicyError) as caught:
        load_policy(_policy(tmp_path, data))
    assert any("per_item.epsilon" in (p.path or "") for p in caught.value.problems)


def test_a_drift_revert_stops_per_item_routing(measured: Path, tmp_path: Path) -> None:
    item = load_plan(measured).decision("wf", "screen").per_item
    assert item is not None
    rows = [json.loads(line) for line in (tmp_path / "recorded.jsonl").read_text().splitlines()]
    easy = max((r["prompt"] for r in rows), key=lambda t: max(item.predictor.score(t)))
    with Router.from_policy(
        measured, database=tmp_path / "usage.db", audit=MemoryAuditTrail()
    ) as router:
        before = router.complete("wf", "screen", [{"role": "user", "content": easy}])
        router.revert_to_top("wf", "screen", "drift alarm")
        after = router.complete("wf", "screen", [{"role": "user", "content": easy}])
    assert before.model != "large"
    assert after.model == "large"
    assert after.decision.item is None


def test_an_audit_recorded_call_carries_the_score_and_threshold(
    measured: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(measured.read_text())
    _phase(data, "screen")["record"] = True  # audit-record this (non-audit) phase's calls
    measured.write_text(yaml.safe_dump(data, sort_keys=False))
    item = load_plan(measured).decision("wf", "screen").per_item
    assert item is not None
    rows = [json.loads(line) for line in (tmp_path / "recorded.jsonl").read_text().splitlines()]
    prompts = sorted({r["prompt"] for r in rows}, key=lambda t: max(item.predictor.score(t)))
    audit = MemoryAuditTrail()
    with Router.from_policy(measured, database=tmp_path / "usage.db", audit=audit) as router:
        router.complete("wf", "screen", [{"role": "user", "content": prompts[-1]}])
        router.complete("wf", "screen", [{"role": "user", "content": prompts[0]}])
    reasons = [" ".join(e.reasons) for e in audit.entries]
    assert len(reasons) == 2
    assert all(f"predictor {item.predictor.sha256[:12]}" in r for r in reasons)
    assert all(f"certified threshold {item.threshold:g}" in r for r in reasons)
    assert "kept on the top tier" in reasons[1]
