"""Checks before a build starts: every command task's program exists."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from buildrunner.errors import PlanError
from buildrunner.executors.command import SHELL_WORDS
from buildrunner.parallel.plan import Plan


def first_program(command: str) -> str | None:
    """The program a command line starts, or None when it cannot be told (shell syntax)."""
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        return None
    for word in words:
        if "=" in word and not word.startswith("=") and word.split("=", 1)[0].isidentifier():
            continue  # VAR=value prefix
        return word
    return None


def check_commands(plan: Plan, workdir: Path, env: dict[str, str] | None = None) -> None:
    """Raise PlanError naming the task whose program is not on PATH."""
    path = {**os.environ, **(env or {}), **plan.env}.get("PATH", os.defpath)
    for task in plan.tasks:
        if task.run is None:
            continue
        program = first_program(task.run)
        if program is None or program in SHELL_WORDS or "/" in program or "$" in program:
            continue
        task_path = {**plan.env, **task.env}.get("PATH", path)
        if shutil.which(program, path=task_path) is None:
            raise PlanError(f"task '{task.id}': command '{program}' not found on PATH")
