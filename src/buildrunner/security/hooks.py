"""Installing BuildRunner's git pre-commit hook without ever clobbering someone else's silently.

An existing foreign hook makes `install` refuse unless told what to do with it: `chain=True` keeps it
(renamed `pre-commit.pre-buildrunner`) and runs it before our check; `force=True` replaces it and
keeps a backup (`pre-commit.buildrunner-backup`). `uninstall` puts a chained hook back.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from buildrunner.errors import SecurityError
from buildrunner.security.git import run_git

MARKER = "# BuildRunner pre-commit hook"
CHAINED = "pre-commit.pre-buildrunner"
BACKUP = "pre-commit.buildrunner-backup"

SCRIPT = """#!/bin/sh
{marker} (installed by `br security hooks install`; remove with `br security hooks uninstall`).
# Blocks commits whose added lines contain secrets or SQL injection.
# Bypass for one commit (not recommended): git commit --no-verify
hook_dir=$(dirname "$0")
if [ -f "$hook_dir/{chained}" ]; then
    if [ -x "$hook_dir/{chained}" ]; then "$hook_dir/{chained}" "$@" || exit $?
    else sh "$hook_dir/{chained}" "$@" || exit $?; fi
fi
BR_PYTHON={python}
if [ -x "$BR_PYTHON" ]; then
    exec "$BR_PYTHON" -m buildrunner.security.precommit
elif command -v br >/dev/null 2>&1; then
    exec br security precommit
fi
echo "BuildRunner pre-commit hook: BuildRunner not found ($BR_PYTHON); commit NOT checked" >&2
exit 0
"""


@dataclass(frozen=True)
class HookStatus:
    """Where the hook lives and what is installed there."""

    path: str
    installed: bool  # ours is in place
    foreign: bool  # another tool's hook is in place
    chained: bool  # a previous hook runs before ours
    python: str | None  # interpreter embedded in our hook

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hooks_dir(root: Path) -> Path:
    """The repository's hooks folder (honours `core.hooksPath` and worktrees)."""
    out = run_git(["rev-parse", "--git-path", "hooks"], root).decode().strip()
    path = Path(out)
    return path if path.is_absolute() else (root / path)


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def status(root: Path) -> HookStatus:
    """Is our hook installed, is another one there, is one chained?"""
    directory = hooks_dir(root)
    hook = directory / "pre-commit"
    ours = hook.is_file() and is_ours(hook)
    python = None
    if ours:
        for line in hook.read_text(encoding="utf-8").splitlines():
            if line.startswith("BR_PYTHON="):
                python = shlex.split(line.partition("=")[2])[0] if line.partition("=")[2] else None
    return HookStatus(
        path=str(hook),
        installed=ours,
        foreign=hook.exists() and not ours,
        chained=(directory / CHAINED).exists(),
        python=python,
    )


def script(python: str) -> str:
    """The hook script embedding the interpreter BuildRunner is installed in."""
    return SCRIPT.format(marker=MARKER, chained=CHAINED, python=shlex.quote(python))


def install(
    root: Path, *, force: bool = False, chain: bool = False, python: str | None = None
) -> HookStatus:
    """Write `.git/hooks/pre-commit`; refuse to replace a foreign hook unless `chain` or `force`."""
    directory = hooks_dir(root)
    hook = directory / "pre-commit"
    if hook.exists() and not is_ours(hook):
        if chain:
            if (directory / CHAINED).exists():
                raise SecurityError(f"{directory / CHAINED} already exists; move it away first")
            os.replace(hook, directory / CHAINED)
        elif force:
            os.replace(hook, directory / BACKUP)
        else:
            raise SecurityError(
                f"{hook} exists and is not BuildRunner's: use --chain to keep it and run it first, "
                "or --force to replace it (a backup is kept)"
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        hook.write_text(script(python or sys.executable), encoding="utf-8")
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError as exc:
        raise SecurityError(f"cannot write {hook}: {exc.strerror or exc}") from None
    return status(root)


def uninstall(root: Path) -> HookStatus:
    """Remove our hook (never a foreign one) and restore a chained hook in its place."""
    directory = hooks_dir(root)
    hook = directory / "pre-commit"
    if hook.exists() and not is_ours(hook):
        raise SecurityError(f"{hook} is not BuildRunner's hook; leaving it alone")
    if hook.exists():
        hook.unlink()
    if (directory / CHAINED).exists():
        os.replace(directory / CHAINED, hook)
    return status(root)


__all__ = ["HookStatus", "install", "script", "status", "uninstall"]
