"""Where `audit keygen` may put a private key, and how the policy must name it.

A private key written inside a git work tree must be git-ignored, or one `git add .` commits
it. When it is not, keygen writes the ignore rule into a `.gitignore` beside the key (and
says so) before the key exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """An ignore rule keygen wrote so the private key stays out of the repository."""

    gitignore: Path
    pattern: str


def work_tree(path: Path) -> Path | None:
    """The git work tree that contains `path` (which need not exist yet), if any."""
    for parent in (path, *path.parents):
        if (parent / ".git").exists():
            return parent
    return None


def is_ignored(path: Path, tree: Path) -> bool | None:
    """True/False from `git check-ignore`; None when git cannot tell (not installed)."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(tree), "check-ignore", "-q", "--no-index", str(path)],
            capture_output=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode in (0, 1):
        return done.returncode == 0
    return None


def ensure_ignored(private_key: Path) -> IgnoreRule | None:
    """Make sure `private_key` (absolute) is git-ignored if it lies in a work tree.

    Returns the rule written, or None when nothing had to be written.
    """
    tree = work_tree(private_key.parent)
    if tree is None or is_ignored(private_key, tree):
        return None
    gitignore = private_key.parent / ".gitignore"
    pattern = f"/{private_key.name}"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if pattern not in existing.splitlines():
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        comment = "" if existing else "# private signing keys (phaseroute audit keygen)\n"
        gitignore.parent.mkdir(parents=True, exist_ok=True)
        with gitignore.open("a", encoding="utf-8") as f:
            f.write(f"{prefix}{comment}{pattern}\n")
    return IgnoreRule(gitignore, pattern)


def as_policy_spells_it(path: Path, policy: Path | None) -> str:
    """`path` as a policy's `file:` location: relative to the policy's directory (where the
    policy resolves it), or absolute without a policy."""
    absolute = path.resolve()
    if policy is None:
        return str(absolute)
    return Path(os.path.relpath(absolute, policy.resolve().parent)).as_posix()
