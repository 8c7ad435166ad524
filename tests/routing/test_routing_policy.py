"""Per-item routing end to end: the policy opts a phase in, `measure --outcomes` certifies it
into the lock file, the compiler and `explain` show it, and the router scores each call and
records the predictor, score and threshold; lint errors name the dotted path. Phases with
``certify: workflow`` are certified as one pool: one threshold, a predictor per phase."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from routing_data import write_recorded

from phaseroute.bench import PricingOptions, load_bench_data
from phaseroute.bench._per_item import featurize_bench, route_per_item
from phaseroute.cli._app import run
from phaseroute.costs import CustomPrice
from phaseroute.errors import LockFileError, PolicyError, Problem
from phaseroute.policy import LockFile, compile_policy, load_plan, load_policy, read_lock
from phaseroute.runtime import Router
from phaseroute.testing.fake import MemoryAuditTrail

DATA = Path(__file__).parent / "data"

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


def _lint_problem(tmp_path: Path, data: dict[str, Any], message: str) -> Problem:
    """The problem whose message holds ``message`` among those the policy is refused with."""
    with pytest.raises(PolicyError) as caught:
        compile_policy(load_policy(_policy(tmp_path, data)))
    return next(p for p in caught.value.problems if message in p.message)


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


def test_a_window_certifies_the_loss_of_a_batch_of_future_calls(
    measured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = read_lock(measured.with_name("policy.lock.json")).per_item["wf"]["screen"]
    assert expected.window is None
    assert '"window"' not in measured.with_name("policy.lock.json").read_text()
    data = yaml.safe_load(measured.read_text())
    _phase(data, "screen")["route"]["per_item"]["window"] = 5000
    measured.write_text(yaml.safe_dump(data, sort_keys=False))
    # the window is part of what was certified: the expected-loss certificate goes stale
    assert any("stale" in w for w in load_plan(measured).decision("wf", "screen").warnings)
    assert (
        run(["measure", str(measured), "--outcomes", str(measured.parent / "recorded.jsonl")]) == 0
    )
    entry = read_lock(measured.with_name("policy.lock.json")).per_item["wf"]["screen"]
    assert entry.window == 5000
    assert "Bernstein" in entry.method
    assert entry.threshold is not None
    assert expected.threshold is not None
    assert entry.threshold >= expected.threshold  # a batch's guarantee is the stricter one
    assert entry.cheap_share <= expected.cheap_share
    decision = load_plan(measured).decision("wf", "screen")
    assert decision.per_item is not None
    capsys.readouterr()
    assert run(["explain", str(measured)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "realised over a batch of 5,000 future calls" in out


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
    problem = _lint_problem(tmp_path, data, message)
    assert problem.path == f"workflows.wf.phases.{phase}.route.per_item"
    assert problem.line is not None
    assert problem.fix


def test_missed_risk_on_recall_may_opt_in(tmp_path: Path) -> None:
    data = json.loads(json.dumps(POLICY))
    _phase(data, "decide")["route"] = {"per_item": {"max_loss": 0.05}}
    _phase(data, "decide")["quality"] = {"metric": "recall", "positive_label": "risk"}
    plan = compile_policy(load_policy(_policy(tmp_path, data)))
    assert any("per-item" in w for w in plan.decision("wf", "decide").warnings)


def test_recorded_outcomes_do_not_certify_recall_on_positives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recorded outcomes carry a score per answer, not labels: a certificate from them would
    be about the mean score, not recall on positives, so measure says so and makes none."""
    write_recorded(
        tmp_path / "recorded.jsonl", {"decide": 600}, ["model-s", "model-m", "model-l"], seed=4
    )
    data = json.loads(json.dumps(POLICY))
    del _phase(data, "screen")["route"]
    _phase(data, "decide")["route"] = {"per_item": {"max_loss": 0.05}}
    _phase(data, "decide")["quality"] = {"metric": "recall", "positive_label": "risk"}
    policy = _policy(tmp_path, data)
    capsys.readouterr()
    assert run(["measure", str(policy), "--outcomes", str(tmp_path / "recorded.jsonl")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "decide was not certified: its loss is recall on positives" in out
    assert read_lock(policy.with_name("policy.lock.json")).per_item == {}


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


# ------------------------------------------------------------------ certify: workflow (pools)

POOL = json.loads(json.dumps(POLICY))
_phase(POOL, "screen")["route"]["per_item"]["certify"] = "workflow"
POOL["workflows"]["wf"]["phases"]["triage"] = {
    "kind": "screening",
    "catastrophic_error": "throughput",
    "caught_by": "human",
    "route": {"per_item": {"max_loss": 0.05, "delta": 0.05, "certify": "workflow"}},
}
POOL_ITEMS = {"screen": 600, "triage": 600}
PRICES = {"model-s": CustomPrice(1, 2), "model-m": CustomPrice(3, 6), "model-l": CustomPrice(9, 18)}


@pytest.fixture
def pooled(tmp_path: Path) -> Path:
    write_recorded(
        tmp_path / "recorded.jsonl", POOL_ITEMS, ["model-s", "model-m", "model-l"], seed=3
    )
    policy = _policy(tmp_path, POOL)
    assert run(["measure", str(policy), "--outcomes", str(tmp_path / "recorded.jsonl")]) == 0
    return policy


def _lock_of(policy: Path) -> LockFile:
    return read_lock(policy.with_name("policy.lock.json"))


def test_measure_certifies_a_pool_with_one_shared_threshold(pooled: Path) -> None:
    entries = _lock_of(pooled).per_item["wf"]
    screen, triage = entries["screen"], entries["triage"]
    assert screen.threshold is not None
    assert screen.threshold == triage.threshold
    assert screen.predictor_sha256 != triage.predictor_sha256  # each phase its own predictor
    for name, entry in entries.items():
        assert entry.pool is not None
        assert entry.pool.phases == ("screen", "triage")
        assert entry.fit_items + entry.certification_items == POOL_ITEMS[name]
        assert entry.dataset.subjects == (name,)
    assert screen.pool is not None
    assert triage.pool is not None
    assert screen.pool.measurement_sha256 == triage.pool.measurement_sha256
    assert screen.pool.certification_items == (
        screen.certification_items + triage.certification_items
    )
    # the logistic models the pool's predictors share are written once, by reference
    raw = json.loads(pooled.with_name("policy.lock.json").read_text())
    refs = {
        c["weights"] for e in raw["per_item"]["wf"].values() for c in e["predictor"]["candidates"]
    }
    assert refs == {f"sha256:{key}" for key in raw["per_item_weights"]}
    assert len(refs) == len(screen.candidates)


def test_a_dangling_shared_weights_reference_names_the_field(pooled: Path) -> None:
    path = pooled.with_name("policy.lock.json")
    raw = json.loads(path.read_text())
    raw["per_item_weights"] = {}
    path.write_text(json.dumps(raw))
    with pytest.raises(LockFileError) as caught:
        read_lock(path)
    (problem,) = caught.value.problems
    assert problem.path == "per_item.wf.screen.predictor.candidates[0].weights"
    assert problem.fix is not None
    assert "re-run" in problem.fix


def test_the_pool_threshold_is_the_benchmarks_workflow_threshold(
    pooled: Path, tmp_path: Path
) -> None:
    data = load_bench_data(
        tmp_path / "recorded.jsonl", PricingOptions(prices=PRICES, reference="model-l")
    )
    everything = np.arange(data.phase_of.size, dtype=np.int64)
    bench = route_per_item(
        data,
        featurize_bench(data.prompts),
        everything,
        everything[:10],
        max_loss=0.05,
        delta=0.05,
        seed=0,
        pooled=True,
    )
    assert bench.thresholds == (_lock_of(pooled).per_item["wf"]["screen"].threshold,)


def test_explain_names_the_pool_and_its_guarantee(
    pooled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(["explain", str(pooled)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "workflow wf's pool (phases screen, triage)" in out
    assert (
        "P(quality loss over the calls of phases screen, triage in the calibration mix > 5.0% "
        "of the top tier) ≤ 0.05"
    ) in out
    plan = load_plan(pooled)
    screen, triage = plan.decision("wf", "screen"), plan.decision("wf", "triage")
    assert screen.per_item is not None
    assert triage.per_item is not None
    assert screen.per_item.threshold == triage.per_item.threshold
    assert screen.per_item.predictor.sha256 != triage.per_item.predictor.sha256


def test_a_pool_member_routes_with_its_own_predictor_and_the_shared_threshold(
    pooled: Path, tmp_path: Path
) -> None:
    plan = load_plan(pooled)
    item = plan.decision("wf", "triage").per_item
    assert item is not None
    entry = _lock_of(pooled).per_item["wf"]["triage"]
    assert item.predictor.sha256 == entry.predictor_sha256
    rows = [json.loads(line) for line in (tmp_path / "recorded.jsonl").read_text().splitlines()]
    prompts = [r["prompt"] for r in rows if r["phase"] == "triage"]
    easy = max(prompts, key=lambda t: max(item.predictor.score(t)))
    with Router.from_policy(
        pooled, database=tmp_path / "usage.db", audit=MemoryAuditTrail()
    ) as router:
        result = router.complete("wf", "triage", [{"role": "user", "content": easy}])
        assert router.ledger is not None
        router.ledger.flush()
        records = router.ledger.records(phase="triage")
    assert result.decision.item is not None
    assert result.model in ("small", "medium")
    assert result.decision.item.predictor_sha256 == entry.predictor_sha256
    assert result.decision.item.threshold == entry.threshold
    assert [(r["item_predictor"], r["item_threshold"]) for r in records] == [
        (entry.predictor_sha256, entry.threshold)
    ]


def _flip_one_triage_score(policy: Path, data: dict[str, Any]) -> None:
    path = policy.with_name("recorded.jsonl")
    lines = path.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if '"phase": "triage"' in line)
    row = json.loads(lines[i])
    row["scores"]["model-s"] = 1.0 - row["scores"]["model-s"]
    lines[i] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")


def _edit_triage_margin(policy: Path, data: dict[str, Any]) -> None:
    _phase(data, "triage")["quality"] = {"margin": 0.03}


def _add_a_member(policy: Path, data: dict[str, Any]) -> None:
    _phase(data, "decide").update(
        catastrophic_error="throughput",
        route={"per_item": {"max_loss": 0.05, "certify": "workflow"}},
    )


def _triage_leaves(policy: Path, data: dict[str, Any]) -> None:
    _phase(data, "triage")["route"]["per_item"]["certify"] = "phase"


def _epsilon_of_the_pool(policy: Path, data: dict[str, Any]) -> None:
    for name in ("screen", "triage"):
        _phase(data, name)["route"]["per_item"]["max_loss"] = 0.1


@pytest.mark.parametrize(
    ("change", "screen_why", "triage_why"),
    [
        (_flip_one_triage_score, "pool member 'triage': dataset", "pool member 'triage': dataset"),
        (_edit_triage_margin, "pool member 'triage'", "the phase's quality"),
        (_add_a_member, "decide joined", "decide joined"),
        (_triage_leaves, "certificate is the pool's of phases screen, triage", "on its own"),
        (_epsilon_of_the_pool, "per-item settings", "per-item settings"),
    ],
)
def test_a_pool_goes_stale_for_every_member(
    pooled: Path,
    change: Callable[[Path, dict[str, Any]], None],
    screen_why: str,
    triage_why: str,
) -> None:
    data = yaml.safe_load(pooled.read_text())
    change(pooled, data)
    pooled.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = load_plan(pooled)
    for name, why in (("screen", screen_why), ("triage", triage_why)):
        decision = plan.decision("wf", name)
        assert decision.per_item is None
        (warning,) = [w for w in decision.warnings if "per-item" in w]
        assert "stale" in warning
        assert why in warning


def test_a_hand_edited_pool_threshold_stales_the_pool(pooled: Path) -> None:
    path = pooled.with_name("policy.lock.json")
    lock = json.loads(path.read_text())
    lock["per_item"]["wf"]["triage"]["threshold"] = 0.01
    path.write_text(json.dumps(lock))
    plan = load_plan(pooled)
    for name in ("screen", "triage"):
        decision = plan.decision("wf", name)
        assert decision.per_item is None
        assert any("no matching certificate of pool member" in w for w in decision.warnings)


def test_a_pool_is_certified_only_with_all_its_phases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_recorded(
        tmp_path / "recorded.jsonl", POOL_ITEMS, ["model-s", "model-m", "model-l"], seed=3
    )
    policy = _policy(tmp_path, POOL)
    outcomes = str(tmp_path / "recorded.jsonl")
    assert run(["measure", str(policy), "--outcomes", outcomes, "--phase", "screen"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "per-item not certified wf: the per-item pool of screen, triage" in out
    assert "triage not replayed in this run" in out
    assert _lock_of(policy).per_item == {}


def test_a_pool_of_one_phase_is_that_phases_own_certificate(tmp_path: Path) -> None:
    write_recorded(
        tmp_path / "recorded.jsonl", {"screen": 400}, ["model-s", "model-m", "model-l"], seed=3
    )
    data = json.loads(json.dumps(POLICY))
    _phase(data, "screen")["route"]["per_item"]["certify"] = "workflow"
    policy = _policy(tmp_path, data)
    assert run(["measure", str(policy), "--outcomes", str(tmp_path / "recorded.jsonl")]) == 0
    entry = _lock_of(policy).per_item["wf"]["screen"]
    old = json.loads((DATA / "per_item_before_pools.lock.json").read_text())
    assert entry.pool is None
    assert entry.threshold == old["per_item"]["wf"]["screen"]["threshold"]
    assert entry.predictor_sha256 == old["per_item"]["wf"]["screen"]["predictor_sha256"]


def test_a_lock_written_before_pools_still_loads_and_routes(tmp_path: Path) -> None:
    """The lock in data/ was written by the release before ``certify``; the same policy and
    data are re-created here: the certificate is current, and re-measuring writes it again
    byte for byte (timestamps aside)."""
    write_recorded(
        tmp_path / "recorded.jsonl", {"screen": 400}, ["model-s", "model-m", "model-l"], seed=3
    )
    policy = _policy(tmp_path)
    old_text = (DATA / "per_item_before_pools.lock.json").read_text()
    lock_file = tmp_path / "policy.lock.json"
    lock_file.write_text(old_text)
    decision = load_plan(policy).decision("wf", "screen")
    assert decision.per_item is not None
    assert not [w for w in decision.warnings if "per-item" in w]
    assert run(["measure", str(policy), "--outcomes", str(tmp_path / "recorded.jsonl")]) == 0

    def timeless(text: str) -> str:
        return re.sub(r'"(measured_at|updated_at)": "[^"]*"', "T", text)

    assert timeless(lock_file.read_text()) == timeless(old_text)


def test_certify_phase_keeps_the_policy_hash_of_before_pools(tmp_path: Path) -> None:
    old = json.loads((DATA / "per_item_before_pools.lock.json").read_text())
    data = json.loads(json.dumps(POLICY))
    assert compile_policy(load_policy(_policy(tmp_path, data))).policy_hash == old["policy_sha256"]
    _phase(data, "screen")["route"]["per_item"]["certify"] = "phase"
    assert compile_policy(load_policy(_policy(tmp_path, data))).policy_hash == old["policy_sha256"]
    _phase(data, "screen")["route"]["per_item"]["window"] = None  # the default, spelt out
    assert compile_policy(load_policy(_policy(tmp_path, data))).policy_hash == old["policy_sha256"]
    _phase(data, "screen")["route"]["per_item"]["certify"] = "workflow"
    assert compile_policy(load_policy(_policy(tmp_path, data))).policy_hash != old["policy_sha256"]


@pytest.mark.parametrize(
    ("phase", "per_item", "path", "message"),
    [
        ("triage", {"max_loss": 0.1}, "triage.route.per_item.max_loss", "one pool has one ε"),
        ("triage", {"delta": 0.1}, "triage.route.per_item.delta", "one pool has one δ"),
        ("triage", {"window": 500}, "triage.route.per_item.window", "one pool has one window"),
        ("interpret", {}, "interpret.route.per_item", "never allowed for an audit phase"),
    ],
)
def test_lint_of_a_pool_names_the_path_and_the_fix(
    tmp_path: Path, phase: str, per_item: dict[str, Any], path: str, message: str
) -> None:
    data = json.loads(json.dumps(POOL))
    settings = {"max_loss": 0.05, "certify": "workflow", **per_item}
    _phase(data, phase)["route"] = {"per_item": settings}
    problem = _lint_problem(tmp_path, data, message)
    assert problem.path == f"workflows.wf.phases.{path}"
    assert problem.line is not None
    assert problem.fix


def test_lint_keeps_recall_out_of_a_pool_measured_on_all_items(tmp_path: Path) -> None:
    data = json.loads(json.dumps(POOL))
    _phase(data, "decide")["route"] = {"per_item": {"max_loss": 0.05, "certify": "workflow"}}
    _phase(data, "decide")["quality"] = {"metric": "recall", "positive_label": "risk"}
    with pytest.raises(PolicyError) as caught:
        compile_policy(load_policy(_policy(tmp_path, data)))
    (problem,) = caught.value.problems
    assert problem.path == "workflows.wf.phases.decide.route.per_item.certify"
    assert "also holds screen, triage" in problem.message
    assert problem.line is not None
    assert "certify: phase" in (problem.fix or "")
