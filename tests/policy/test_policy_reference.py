"""docs/policy.md is generated from the schema and cannot drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_paths import ROOT

from phaseroute.policy import compile_policy, load_policy_text
from phaseroute.policy._reference import SAMPLE, render, sections
from phaseroute.policy._schema import Policy
from phaseroute.policy.reference import main

DOC = ROOT / "docs" / "policy.md"


def test_docs_policy_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/policy.md is out of date with the policy schema — regenerate it: "
        "python -m phaseroute.policy.reference --write docs/policy.md"
    )


def test_every_field_of_every_model_is_documented_with_an_example() -> None:
    documented = {(s.model, f.name) for s in sections() for f in s.fields}
    seen: set[type] = set()

    def expect(model: type) -> None:
        if model in seen or not hasattr(model, "model_fields"):
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            assert (model, info.alias or name) in documented, (model.__name__, name)

    for s in sections():
        expect(s.model)
    assert Policy in seen
    text = render()
    for s in sections():
        for f in s.fields:
            assert f.example.startswith(f"{f.name}: "), (s.model.__name__, f.name)
            assert f.description, (s.model.__name__, f.name)
        assert f"`{s.title}` — {s.model.__name__}" in text
    # today every field has a description of its own (new fields get a visible placeholder)
    assert "undocumented" not in text
    for word in ("timeout_s", "base_url", "justification", "redact", "database", "on_unavailable"):
        assert f"| `{word}` |" in text


def test_fields_added_to_the_schema_are_picked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import Field, create_model

    from phaseroute.policy import _reference, _schema

    extended = create_model(
        "AuditConfig",
        __base__=_schema.AuditConfig,
        witness_dir=(str | None, Field(default=None, description="Where heads are published.")),
        retention_days=(int, 1825),
    )
    policy = create_model("Policy", __base__=_schema.Policy, audit=(extended, extended()))
    monkeypatch.setattr(_reference, "Policy", policy)
    text = _reference.render()
    assert "| `witness_dir` | string or null | `null` | Where heads are published. |" in text
    assert "| `retention_days` | integer | `1825` | (undocumented" in text
    assert "`retention_days: 1825`" in text


def test_the_sample_every_example_comes_from_passes_check() -> None:
    plan = compile_policy(load_policy_text(SAMPLE, file="sample.yaml"))
    assert plan.notices == ()


def test_the_script_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "policy.md"
    assert main(["--check", str(out)]) == 1
    assert "python -m phaseroute.policy.reference --write" in capsys.readouterr().err
    assert main(["--write", str(out)]) == 0
    assert main(["--check", str(out)]) == 0
    out.write_text(out.read_text() + "edited by hand\n")
    assert main(["--check", str(out)]) == 1
