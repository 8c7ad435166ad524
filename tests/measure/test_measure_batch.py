"""`measure --batch`: each look's live calls go to each model as one batch, at batch prices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from measure_fixtures import two_tiers, write_jsonl, write_policy

from phaseroute.cli._app import run
from phaseroute.runtime import UsageLedger
from phaseroute.testing.upstream import Outcome, OutcomeKind, Upstream, UpstreamRequest

N = 40


def label(i: int) -> str:
    return "risk" if i % 3 == 0 else "clear"


def answer(request: UpstreamRequest) -> str:
    return label(int(request.last_user_text.split()[-1]))


def test_measure_batch_sends_each_look_as_one_batch_per_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Upstream(seed=2) as up:
        for model in ("claude-haiku-5-5", "claude-opus-5-5"):
            up.program(model, reply=answer)
        # One request of the first batch expires: it is asked again, live.
        up.enqueue("claude-haiku-5-5", Outcome(OutcomeKind.EXPIRED))
        data = two_tiers()
        data["providers"]["p"] = {
            "type": "anthropic",
            "api_key": "file:k.txt",
            "base_url": up.base_url,
        }
        (tmp_path / "k.txt").write_text("k")
        policy = write_policy(tmp_path / "policy.yaml", data)
        rows = [{"id": f"c{i}", "prompt": f"case {i}", "label": label(i)} for i in range(N)]
        write_jsonl(tmp_path / "data" / "wf" / "screen.jsonl", rows)
        db = tmp_path / "m.db"
        code = run([
            "measure", str(policy), "--data", str(tmp_path / "data"), "--phase", "screen",
            "--batch", "--batch-size", "20", "--database", str(db),
        ])  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0, out
        batches = up.batches.ids()
        assert len(batches) >= 2  # at least one look, two models
        sizes = {len(up.batches.get(b).requests) for b in batches}  # type: ignore[union-attr]
        assert sizes <= {20}
        calls = int(re.search(r"(\d+) model call\(s\)", out).group(1))  # type: ignore[union-attr]
        assert calls == 20 * len(batches)
    ledger = UsageLedger.open(db)
    (totals,) = ledger.totals(workflow="measure")
    assert totals.calls == calls
    assert totals.batch_calls == calls - 1  # the expired one was answered live
    ledger.close()
