"""CLI conventions, checked on every command there is (whoever added it): --version, help text
without artefacts and with whole sentences, exit 2 for usage errors, the README table."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from project_paths import AML_POLICY, ROOT

from phaseroute.cli._app import build_app, run


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(build_app()))
LEAVES = [path for path, c in COMMANDS if path and not getattr(c, "commands", None)]


def test_the_walk_finds_the_commands_and_subcommands() -> None:
    assert ("measure",) in LEAVES
    assert ("audit", "erase") in LEAVES


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"phaseroute {version('phaseroute')}"


ARTEFACTS = re.compile(r"\{[a-z_]+\}|<(bool|str|int|float|path|list\[[^\]]*\])[^>]*>")


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "root")
def test_help_has_no_artefacts_and_whole_sentences(
    path: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no sentence needs to wrap
    assert run([*path, "--help"]) == 0
    out = capsys.readouterr().out
    found = ARTEFACTS.search(out)
    assert found is None, f"`phaseroute {' '.join(path)} --help` shows {found.group()!r}"
    command = dict(COMMANDS)[path]
    text = (command.help or "").strip()
    assert text, f"`phaseroute {' '.join(path)}` has no help text"
    first = " ".join(text.split("\n\n")[0].replace("`", "").split())
    flat = " ".join(line.strip(" │") for line in out.splitlines())
    assert first in flat, f"the description of `phaseroute {' '.join(path)}` is broken up"
    single_lines = [" ".join(line.strip(" │").split()) for line in out.splitlines()]
    assert first in single_lines, (
        f"`phaseroute {' '.join(path)} --help` breaks its first paragraph across lines"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["measure", str(AML_POLICY)],  # neither --data nor --outcomes
        ["measure", str(AML_POLICY), "--data", "d", "--outcomes", "o"],
        ["measure", str(AML_POLICY), "--data", "d", "--map", "m"],
        ["audit", "verify", "--db", "x.db"],  # no --public-key or --key
        ["usage", "--since", "soon"],
        ["explain"],  # missing argument
        ["explain", str(AML_POLICY), "--no-such-option"],
        ["bench"],  # missing --outcomes
    ],
    ids=lambda a: " ".join(a[:1] + [x for x in a[1:] if x.startswith("-")]),
)
def test_usage_errors_exit_2_with_one_message(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "--help" in err  # where to look next


def _readme_command_cells() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    cells = []
    for line in section.splitlines():
        if line.startswith("| `phaseroute"):
            cell = re.split(r"(?<!\\)\|", line)[1]
            cells.append(cell.replace("\\|", "|").strip(" `"))
    return cells


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_the_readme_command_table_lists_every_command(path: tuple[str, ...]) -> None:
    cells = _readme_command_cells()
    group, name = path[:-1], path[-1]
    prefix = " ".join(("phaseroute", *group))
    # `phaseroute audit keygen|verify|…` lists several subcommands in one row
    listed = any(
        cell.startswith(prefix + " ") and name in cell[len(prefix) :].split()[0].split("|")
        for cell in cells
    )
    assert listed, f"README.md's command table has no row for `{prefix} {name}`"


def test_usage_names_an_unknown_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phaseroute.runtime import UsageLedger

    db = tmp_path / "ledger.db"
    UsageLedger.open(db).close()
    assert run(["usage", "--db", str(db), "--workflow", "nope"]) == 1
    err = capsys.readouterr().err
    assert "'nope'" in err
    assert "workflows recorded: none" in err


def test_serve_alone_is_the_serve_of_the_full_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """`phaseroute serve` builds only its own command (a faster gateway start): the same
    options and help as in the whole tree."""
    full = typer.main.get_command(build_app()).commands["serve"]
    alone = typer.main.get_command(build_app("serve")).commands
    assert list(alone) == ["serve"]
    assert [p.name for p in alone["serve"].params] == [p.name for p in full.params]
    assert run(["serve", "--help"]) == 0
    assert "--max-body-mb" in capsys.readouterr().out
