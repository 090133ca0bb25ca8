"""Checks before a build starts: what can be known for sure about commands and folders.

Only the first word of a simple command is checked (`pytest -q`, `A=1 make all`, `date;ls`); when
the command starts with shell syntax (a subshell, `!`, a quote, `$`, a glob, a keyword) nothing is
checked, because only the shell knows. The scan reads each command once, up to its first word, so
a 1 MB `run:` line costs no more than a short one. A working directory that does not exist is
refused only for tasks without dependencies: a task that runs after others may use a folder they
create, and the executor says so clearly if it is still missing then.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from buildrunner.errors import PlanError
from buildrunner.executors.command import SHELL_WORDS
from buildrunner.parallel.plan import Plan, TaskSpec

# A word: blanks, then anything up to an operator, a redirection or a blank (one regex pass).
_WORD = re.compile(r"[ \t]*([^ \t\n;&|<>()]*)")
# A first word holding one of these is shell syntax (quotes, expansions, globs, escapes, groups).
_SHELL_SYNTAX = re.compile(r"['\"`$\\*?\[\]{}~!#=]")
_QUOTE_OR_EXPANSION = re.compile(r"['\"`$\\]")
_KEYWORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "for",
        "while",
        "until",
        "case",
        "esac",
        "in",
        "function",
        "select",
        "time",
        "coproc",
    }
)


def first_program(command: str) -> str | None:
    """The program a simple command starts, or None when only the shell can tell.

    Leading `NAME=value` assignments are skipped. Linear in the length of what it reads.
    """
    index = 0
    while True:
        match = _WORD.match(command, index)
        assert match is not None  # the pattern matches the empty string
        word, index = match.group(1), match.end()
        if not word:
            return None  # empty, or starts with an operator / subshell: shell syntax
        name, equals, _ = word.partition("=")
        if equals and name.isidentifier():
            if _QUOTE_OR_EXPANSION.search(word):
                return None  # a quoted or expanded value may hide blanks: let the shell read it
            continue  # VAR=value prefix
        if word in _KEYWORDS or _SHELL_SYNTAX.search(word):
            return None
        return word


def check_commands(plan: Plan, workdir: Path, env: dict[str, str] | None = None) -> None:
    """Raise PlanError naming the first command task whose program surely does not exist."""
    base_path = {**os.environ, **(env or {}), **plan.env}.get("PATH", os.defpath)
    found: dict[tuple[str, str], bool] = {}
    for task in plan.tasks:
        if task.run is None:
            continue
        program = first_program(task.run)
        if program is None or program in SHELL_WORDS:
            continue
        if "/" in program:
            folder = task_folder(task, workdir)
            path = Path(program) if program.startswith("/") else folder / program
            if not folder.is_dir():
                continue  # the folder check reports this task (or its dependencies make it)
            if not path.exists() and not task.depends_on:
                raise PlanError(f"task '{task.id}': program '{program}' does not exist in {folder}")
            continue
        task_path = task.env.get("PATH", base_path)
        key = (program, task_path)
        if key not in found:
            found[key] = shutil.which(program, path=task_path) is not None
        if not found[key]:
            raise PlanError(f"task '{task.id}': command '{program}' not found on PATH")


def task_folder(task: TaskSpec, base: Path) -> Path:
    """The folder a task runs in: its `cwd` under `base` (the folder the plan's tasks run in)."""
    return base / task.cwd if task.cwd else base


def check_folders(plan: Plan, base: Path) -> None:
    """Raise PlanError for a task whose `cwd` is missing, not a folder, or leads outside `base`.

    `base` is the folder the plan's tasks run in. A missing folder is an error only for a task
    without dependencies (nothing could have created it before the task starts).
    """
    root = base.resolve()
    for task in plan.tasks:
        if task.cwd is None:
            continue
        folder = task_folder(task, base)
        try:
            resolved = folder.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            raise PlanError(f"task '{task.id}': cwd '{task.cwd}': {exc}") from None
        if resolved != root and root not in resolved.parents:
            raise PlanError(
                f"task '{task.id}': cwd '{task.cwd}' leads outside {root} (through a symlink)"
            )
        if folder.exists() and not folder.is_dir():
            raise PlanError(f"task '{task.id}': cwd '{task.cwd}' is not a directory")
        if not folder.exists() and not task.depends_on:
            raise PlanError(
                f"task '{task.id}': cwd '{task.cwd}': directory {folder} does not exist"
            )


def preflight(plan: Plan, base: Path, env: dict[str, str] | None = None) -> None:
    """Every check that can be made before a build starts (folders first, then programs)."""
    check_folders(plan, base)
    check_commands(plan, base, env)


def plan_folder(plan: Plan, plan_path: Path) -> Path:
    """Where a plan's tasks run: its `workdir:` (relative to the plan file), else the file's folder."""
    folder = plan_path.parent
    return (folder / plan.workdir) if plan.workdir else folder
