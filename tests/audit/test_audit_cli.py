"""`phaseroute audit ...`: keygen, verify (database and bundle), export, show, stats, erase."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from audit_samples import sample_entry
from sqlalchemy import text

from phaseroute.audit import AuditTrail, load_signing_key
from phaseroute.cli._app import run
from phaseroute.storage.database import open_engine


@pytest.fixture
def trail_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert run(["audit", "keygen", "--out", "keys"]) == 0
    key = load_signing_key("file:keys/audit.key")
    with AuditTrail.open(tmp_path / "a.db", signing_key=key, checkpoint_every=4) as trail:
        trail.append_many([sample_entry(i) for i in range(9)])
    return tmp_path / "a.db"


def test_verify_passes_on_an_intact_trail(
    trail_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["audit", "verify", "--db", str(trail_db), "--public-key", "keys/audit.pub"]) == 0
    out = capsys.readouterr().out
    assert "intact" in out
    assert "9 record(s)" in out


def test_verify_names_the_first_bad_seq(trail_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = open_engine(trail_db)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_records_no_delete"))
        conn.execute(text("DELETE FROM audit_records WHERE seq = 6"))
    engine.dispose()
    code = run(["audit", "verify", "--db", str(trail_db), "--key", "file:keys/audit.key"])
    assert code == 1
    assert "first bad seq 6: missing" in capsys.readouterr().out


def test_verify_needs_a_trust_anchor(trail_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "verify", "--db", str(trail_db)]) == 2  # a usage error
    err = capsys.readouterr().err
    assert "--public-key" in err
    assert "phaseroute audit verify --help" in err


def test_verify_of_a_missing_database_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["audit", "keygen"]) == 0
    code = run(["audit", "verify", "--db", "nope.db", "--public-key", "keys/audit.pub"])
    assert code == 1
    assert "nope.db: no audit database here" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
    assert run(["audit", "verify", "--db", "nope.db", "--key", "env:PHASEROUTE_NO_KEY"]) == 1
    assert "PHASEROUTE_NO_KEY (audit signing key) is not set" in capsys.readouterr().err


def test_export_then_verify_the_bundle(trail_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        [
            "audit",
            "export",
            "--db",
            str(trail_db),
            "--out",
            "bundle",
            "--key",
            "file:keys/audit.key",
        ]
    )
    assert code == 0
    assert "signed up to 9 of 9" in capsys.readouterr().out
    assert sorted(p.name for p in Path("bundle").iterdir()) == [
        "checkpoints.jsonl",
        "content.jsonl",
        "keys",
        "manifest.json",
        "records.jsonl",
    ]
    trail_db.unlink()
    code = run(["audit", "verify", "--bundle", "bundle", "--public-key", "keys/audit.pub"])
    assert code == 0
    assert "intact" in capsys.readouterr().out
    assert run(["audit", "verify", "--bundle", "bundle"]) == 0  # the bundle's own key, noted
    assert "compare with the key id the operator published" in capsys.readouterr().out


def test_show_stats_and_erase(trail_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "show", "--db", str(trail_db), "--case", "CASE-0002", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["seq"] for d in docs] == [3]
    assert docs[0]["record"]["request_id"] == "req_000002"
    assert docs[0]["response"].startswith("Provision applies")
    assert run(["audit", "show", "--db", str(trail_db), "--case", "CASE-0002"]) == 0
    shown = capsys.readouterr().out
    assert "None" not in shown
    assert re.search(r"latency \d+(\.\d+)? (ms|s)[,\n]", shown)
    assert re.search(r"cost (\d[\d,]*(\.\d+)? USD|unpriced)", shown)
    erase = ["audit", "erase", "--db", str(trail_db), "--seq", "3", "--reason", "GDPR Art. 17"]
    assert run([*erase, "--authority", "DPO", "--key", "file:keys/audit.key"]) == 0
    assert "erasure record 10" in capsys.readouterr().out
    assert run(["audit", "show", "--db", str(trail_db), "--case", "CASE-0002"]) == 0
    assert "content erased" in capsys.readouterr().out
    assert run(["audit", "stats", "--db", str(trail_db), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["records"], s["erased"], s["last_checkpoint_seq"]) == (10, 1, 10)
    assert run(["audit", "stats", "--db", str(trail_db)]) == 0
    assert "compliance_interpretation" in capsys.readouterr().out
    assert run(["audit", "show", "--db", str(trail_db), "--case", "NONE"]) == 1
    assert run(["audit", "verify", "--db", str(trail_db), "--public-key", "keys/audit.pub"]) == 0


def test_checkpoint_command_signs_an_orphaned_tail(
    trail_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with AuditTrail.open(trail_db) as unsigned:  # a writer without the key
        unsigned.append(sample_entry(99))
    assert run(["audit", "verify", "--db", str(trail_db), "--public-key", "keys/audit.pub"]) == 5
    out = capsys.readouterr().out
    assert "UNSIGNED TAIL" in out
    assert "head not covered by a checkpoint" in out
    assert run(["audit", "checkpoint", "--db", str(trail_db), "--key", "file:keys/audit.key"]) == 0
    assert run(["audit", "verify", "--db", str(trail_db), "--public-key", "keys/audit.pub"]) == 0
