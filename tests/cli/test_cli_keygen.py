"""``audit keygen``: the printed location works when pasted, and private keys stay out of git."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from project_paths import AML_POLICY

from phaseroute.audit import load_signing_key
from phaseroute.cli._app import run
from phaseroute.policy import load_plan
from phaseroute.runtime import Router

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _ignored(repo: Path, path: Path) -> bool:
    done = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", str(path)], check=False)
    return done.returncode == 0


def _printed_location(out: str) -> str:
    match = re.search(r"signing_key: (file:\S+)", out)
    assert match, out
    return match.group(1)


def _keyless_aml(directory: Path) -> Path:
    text = AML_POLICY.read_text(encoding="utf-8")
    text = re.sub(r"\naudit:.*\n.*signing_key:.*\n", "\n", text)
    assert "signing_key" not in text
    policy = directory / "phaseroute.yaml"
    policy.write_text(text, encoding="utf-8")
    return policy


@needs_git
def test_keygen_for_a_policy_prints_the_path_the_policy_resolves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / "examples").mkdir()
    policy = _keyless_aml(repo / "examples")
    monkeypatch.chdir(repo)
    assert run(["audit", "keygen", "--policy", "examples/phaseroute.yaml"]) == 0
    out = capsys.readouterr().out
    location = _printed_location(out)
    assert location == "file:keys/audit.key"  # relative to the policy, not to the cwd
    private = repo / "examples" / "keys" / "audit.key"
    assert private.stat().st_mode & 0o777 == 0o600
    # not ignored before: keygen wrote the rule and said so
    assert "git-ignored" in out
    assert _ignored(repo, private)
    assert not _ignored(repo, private.with_suffix(".pub"))
    # pasted into the policy, it compiles and the router's loader finds the key
    text = policy.read_text(encoding="utf-8") + f"\naudit:\n  signing_key: {location}\n"
    policy.write_text(text, encoding="utf-8")
    plan = load_plan(policy)
    load_signing_key(location, plan.base_dir)
    assert run(["check", str(policy)]) == 0


@needs_git
def test_keygen_writes_no_rule_where_the_key_is_already_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("*.key\n")
    assert run(["audit", "keygen", "--out", str(repo / "keys")]) == 0
    out = capsys.readouterr().out
    assert "git-ignored" not in out
    assert not (repo / "keys" / ".gitignore").exists()
    assert _ignored(repo, repo / "keys" / "audit.key")


def test_keygen_outside_a_work_tree_prints_an_absolute_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["audit", "keygen", "--out", "k"]) == 0
    out = capsys.readouterr().out
    location = _printed_location(out)
    assert location == f"file:{(tmp_path / 'k' / 'audit.key').resolve()}"
    assert not (tmp_path / "k" / ".gitignore").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    load_signing_key(location, elsewhere)  # works whatever the policy's directory


def test_keygen_says_when_the_policy_already_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "phaseroute.yaml"
    shutil.copy(AML_POLICY, policy)
    assert run(["audit", "keygen", "--policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "already signs with it: signing_key: file:keys/audit.key" in out
    assert (tmp_path / "keys" / "audit.key").exists()
    # the example's documented first step is all the router needs to open its signed trail
    with Router.from_policy(policy, database=tmp_path / "p.db") as router:
        assert router.plan.decision("aml_alert_review", "compliance_interpretation").record
    assert run(["audit", "keygen", "--policy", str(tmp_path / "nope.yaml")]) == 1
