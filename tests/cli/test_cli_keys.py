"""``phaseroute keys create|list|revoke`` against the policy's database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phaseroute.cli._app import run


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    from gateway.access_support import plan_with

    plan_with(None, tmp_path)
    return tmp_path / "policy.yaml"


def test_create_list_revoke(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        ["keys", "create", str(policy), "--name", "ci", "--workflow", "wf", "--daily-usd", "$2.5"]
    )
    assert code == 0
    out = capsys.readouterr().out
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))
    assert secret.startswith("phr_")
    assert "only time the key is shown" in out
    assert (policy.parent / "phaseroute.db").exists()  # beside the policy, like the router's

    assert run(["keys", "list", str(policy), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "ci"
    assert row["workflows"] == ["wf"]
    assert row["daily_usd"] == "2.5"
    assert secret not in json.dumps(row)
    assert run(["keys", "list", str(policy)]) == 0
    table = capsys.readouterr().out
    assert row["key_id"] in table
    assert secret not in table

    assert run(["keys", "revoke", str(policy), row["key_id"]]) == 0
    assert "revoked" in capsys.readouterr().out
    assert run(["keys", "list", str(policy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run(["keys", "list", str(policy), "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None


def test_create_json_shows_the_key_once(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "create", str(policy), "--name", "bot", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key"].startswith(f"phr_{data['key_id']}_")
    assert data["workflows"] is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create", "{policy}", "--name", "x", "--workflow", "nope"], "not a workflow of"),
        (["create", "{policy}", "--name", "x", "--daily-usd", "lots"], "not an amount"),
        (["create", "{policy}", "--name", "x", "--monthly-usd", "0"], "positive amount"),
        (["revoke", "{policy}", "abcdefabcdef"], "no key with id"),
        (["list", "{missing}"], "no such policy file"),
    ],
)
def test_mistakes_are_one_clear_message(
    policy: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    argv = [
        a.format(policy=policy, missing=policy.parent / "missing.yaml") for a in ["keys", *args]
    ]
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err
