"""Helpers of the task cache tests: a project with a real store, and a build loop in miniature.

`run_plan` does what the build loop does with the cache: key each task at dispatch (with the keys
of its dependencies), restore it on a hit, else run its command for real and store the result.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from buildrunner.build.cache import TaskCache
from buildrunner.parallel.plan import Plan, parse_plan, topological_order
from buildrunner.store.db import Store

LIB_APP_PLAN = """
name: lib-app
cache_env: [TARGET]
tasks:
  - id: lib
    run: cat src/*.c > lib.txt
    inputs: [src/]
    files: [lib.txt]
  - id: app
    run: cat lib.txt main.c > app.txt
    inputs: [main.c]
    depends_on: [lib]
    files: [app.txt]
    env: {MODE: "fast"}
"""  # lib reads src/, app reads main.c and lib's output


def lib_app_project(root: Path) -> None:
    """The sources of LIB_APP_PLAN (old enough for the stat cache to trust them)."""
    write(root, "src/a.c", "int a;\n")
    write(root, "src/b.c", "int b;\n")
    write(root, "main.c", "int main;\n")
    backdate(root)


def make_cache(
    root: Path,
    *,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    clock: Callable[[], float] = time.time,
) -> TaskCache:
    root.mkdir(parents=True, exist_ok=True)
    conn = Store(root).connect()
    return TaskCache(
        conn,
        cache_dir or root / ".buildrunner" / "cache",
        environ=environ or {},
        max_bytes=max_bytes,
        clock=clock,
    )


def plan_of(text: str) -> Plan:
    return parse_plan(text)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def backdate(root: Path, seconds: float = 60.0) -> None:
    """Make every file look older (outside the racy window), as in a tree checked out earlier."""
    when = time.time() - seconds
    for folder, _dirs, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(folder, name), (when, when), follow_symlinks=False)


def run_plan(cache: TaskCache, plan: Plan, root: Path) -> dict[str, str]:
    """Run every task in dependency order through the cache: task id -> 'cached' or 'ran'."""
    keys: dict[str, str] = {}
    outcome: dict[str, str] = {}
    for task_id in topological_order(plan):
        task = plan.task(task_id)
        log = root / ".buildrunner" / "logs" / f"{task_id}.log"
        answer = cache.restore_if_cached(
            task, plan=plan, workdir=root, dependency_keys=keys, log_path=log
        )
        if answer.key is not None:
            keys[task_id] = answer.key.digest
        if answer.hit:
            outcome[task_id] = "cached"
            continue
        workdir = root / task.cwd if task.cwd else root
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as handle:
            subprocess.run(
                task.run or "true",
                shell=True,
                cwd=workdir,
                check=True,
                stdout=handle,
                env={**os.environ, **plan.env, **task.env},
            )
        if answer.key is not None:
            assert cache.store(
                answer.key,
                workdir=root,
                log_path=log,
                cost_usd=0,
                duration_s=0.0,
                session_id="test",
            ).stored
        outcome[task_id] = "ran"
    return outcome
