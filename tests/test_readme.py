"""Every shell block of README.md runs, as written, in a fresh copy of the project.

The blocks run in order in one copy of the files a clone has (``git ls-files``), in one
shell per block, as a reader following the README would. The one substitution: the test
venv stands for ``.venv`` — ``python3 -m venv .venv`` makes a ``.venv/bin`` whose
``phaseroute`` (and ``ruff``, ``mypy``, ``pytest``) are the test venv's, and its ``pip
install -e .`` accepts the command without installing (the package is installed already).

A block that cannot run offline or inside the suite (a live API key, a long-running server,
the test suite itself) carries a marker on the line just before its fence, with the reason::

    <!-- readme-test: skip — needs a live ANTHROPIC_API_KEY -->

Every fence must name its language, so a shell block cannot escape by having none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from project_paths import ROOT

SHELL = {"bash", "sh", "shell", "console"}
MARKER = re.compile(r"^<!--\s*readme-test:\s*skip\b\s*[—:-]*\s*(?P<reason>.*?)\s*-->$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    skip: str | None  # the marker's reason, if marked


def blocks(markdown: str) -> list[Block]:
    """Fenced blocks of `markdown`, each with the skip marker just before it (if any)."""
    found: list[Block] = []
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening.group("fence")
        language = opening.group("info").strip().split(" ")[0].lower()
        previous = next((s.strip() for s in reversed(lines[:i]) if s.strip()), "")
        marker = MARKER.match(previous)
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        found.append(
            Block(
                line=i + 1,
                language=language,
                text="\n".join(lines[i + 1 : end]),
                skip=marker.group("reason") if marker else None,
            )
        )
        i = end + 1
    return found


def test_the_block_parser_sees_markers_languages_and_nesting() -> None:
    text = (
        "intro\n\n<!-- readme-test: skip — needs a live key -->\n```bash\nexport K=1\n```\n"
        "````markdown\n```bash\nnot a block of its own\n```\n````\n```\nbare\n```\n"
    )
    found = blocks(text)
    assert [(b.line, b.language, b.skip) for b in found] == [
        (4, "bash", "needs a live key"),
        (7, "markdown", None),
        (12, "", None),
    ]


README_BLOCKS = blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_every_fence_names_its_language() -> None:
    bare = [b.line for b in README_BLOCKS if not b.language]
    assert not bare, (
        f"README.md lines {bare}: a fence without a language — write ```bash for commands "
        "(they are run by this test) or the language of the code"
    )


def test_every_skip_marker_gives_its_reason() -> None:
    silent = [b.line for b in README_BLOCKS if b.skip is not None and len(b.skip) < 10]
    assert not silent, f"README.md lines {silent}: say why the block cannot run here"


def _tracked_copy(destination: Path) -> Path:
    """The files a clone has (tracked, plus new files not ignored) copied to `destination`."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("the README test copies the files git tracks; run it inside a git checkout")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


SHIM_PYTHON = """#!/bin/sh
# python3 with one substitution: `-m venv .venv` links the test venv's tools instead.
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    for tool in phaseroute ruff mypy pytest python; do
        [ -e "{bin}/$tool" ] && ln -sf "{bin}/$tool" "$3/bin/$tool"
    done
    cp "{shims}/pip" "$3/bin/pip"
    exit 0
fi
exec "{python}" "$@"
"""

SHIM_PIP = """#!/bin/sh
# pip that accepts the README's editable install of this project (installed already).
case "$*" in
    *install*-e*) exit 0 ;;
esac
echo "README test: unexpected pip command: $*" >&2
exit 1
"""


def _shims(directory: Path) -> Path:
    directory.mkdir()
    venv_bin = Path(sys.executable).parent
    python = directory / "python3"
    python.write_text(
        SHIM_PYTHON.format(bin=venv_bin, shims=directory, python=sys.executable),
        encoding="utf-8",
    )
    pip = directory / "pip"
    pip.write_text(SHIM_PIP, encoding="utf-8")
    for shim in (python, pip):
        shim.chmod(0o755)
    return directory


def test_every_shell_block_of_the_readme_runs_from_a_fresh_copy(tmp_path: Path) -> None:
    runnable = [b for b in README_BLOCKS if b.language in SHELL and b.skip is None]
    assert runnable, "README.md has no runnable shell block"
    work = _tracked_copy(tmp_path / "clone")
    shims = _shims(tmp_path / "shims")
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))}
    env.update(
        PATH=os.pathsep.join([str(shims), str(venv_bin), env.get("PATH", "")]),
        COLUMNS="100",
        HOME=str(tmp_path / "home"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    for block in runnable:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.text],
            check=False,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (
            f"README.md line {block.line}: the block exited {done.returncode}\n"
            f"{block.text}\n--- stdout (end)\n{done.stdout[-3000:]}\n"
            f"--- stderr (end)\n{done.stderr[-3000:]}\n"
            "Fix the command or the code; if it truly cannot run offline, put "
            "`<!-- readme-test: skip — REASON -->` on the line before its fence."
        )
