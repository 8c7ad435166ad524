"""``phaseroute init``: a commented starter policy that passes ``check`` as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phaseroute.cli._app import run
from phaseroute.policy import load_plan

AML = [
    "--workflow",
    "aml",
    "--phase",
    "screening:screening:throughput:50000",
    "--phase",
    "enrichment:extraction:throughput:12000",
    "--phase",
    "decision:judgment:missed_risk:800:audit",
    "--phase",
    "qa:review:missed_risk:800:record",
    "--feeds",
    "screening:enrichment",
    "--feeds",
    "enrichment:decision",
    "--feeds",
    "decision:qa",
]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_init_writes_a_policy_that_passes_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str
) -> None:
    out = tmp_path / "conf" / "phaseroute.yaml"
    assert run(["init", *AML, "--provider", provider, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"phaseroute audit keygen --policy {out}" in said
    assert run(["check", str(out)]) == 0
    assert "warning" not in capsys.readouterr().out
    plan = load_plan(out)
    tiers = {d.phase: d.tier for d in plan}
    assert tiers["decision"] == "frontier"  # rule 1
    assert plan.decision("aml", "qa").record
    assert plan.decision("aml", "screening").volume == 50000
    text = out.read_text()
    assert "# caught_by: human_review" in text  # offered, not asserted
    assert text.count("#") > 10  # commented
    assert run(["cost", str(out), "--format", "json"]) == 0  # every phase priced and costed
    (wf,) = json.loads(capsys.readouterr().out)["workflows"]
    assert wf["unpriced"] == []
    assert wf["not_costed"] == []


def test_init_without_audit_needs_no_key(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    assert run(["init", "--workflow", "w", "--phase", "a:drafting:throughput", "-o", str(out)]) == 0
    assert "signing_key" not in out.read_text()
    assert run(["check", str(out)]) == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--phase", "a:bogus:throughput"], "KIND 'bogus'"),
        (["--phase", "a:review"], "NAME:KIND:CATASTROPHIC_ERROR"),
        (["--phase", "a:review:sometimes"], "'sometimes' is not one of"),
        (["--phase", "a:review:missed_risk:lots"], "neither a volume"),
        (["--phase", "a:review:missed_risk", "--phase", "a:review:missed_risk"], "twice"),
        (["--phase", "a:review:missed_risk", "--feeds", "a:b"], "FROM:TO"),
        (["--phase", "bad name:review:missed_risk"], "letters, digits"),
        (["--phase", "a:review:missed_risk", "--provider", "acme"], "one of anthropic"),
    ],
)
def test_bad_descriptions_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    out = tmp_path / "p.yaml"
    assert run(["init", "--workflow", "w", *args, "-o", str(out)]) == 2
    assert words in " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert not out.exists()


def test_init_never_overwrites_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.yaml"
    out.write_text("mine\n")
    args = ["init", "--workflow", "w", "--phase", "a:review:missed_risk", "-o", str(out)]
    assert run(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "mine\n"
    assert run([*args, "--force"]) == 0
