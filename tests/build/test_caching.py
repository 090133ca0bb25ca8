"""The task cache in real builds: `br run` twice, then with one input changed, and with --no-cache."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan

PLAN = """\
name: cached
tasks:
  - id: upper
    run: tr a-z A-Z < notes.txt > upper.txt
    inputs: [notes.txt]
    files: [upper.txt]
  - id: count
    run: wc -c < upper.txt > count.txt
    inputs: [upper.txt]
    files: [count.txt]
    depends_on: [upper]
  - id: other
    run: cp other.txt copy.txt
    inputs: [other.txt]
    files: [copy.txt]
  - id: always
    run: date > now.txt
"""


def run(*extra: str) -> dict[str, Any]:
    result = run_br("run", "plan.yaml", "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cached_tasks(root: Path, session_id: str) -> set[str]:
    conn = Store(root).connect()
    conn.row_factory = sqlite3.Row
    rows = conn.execute(
        "SELECT task_id FROM tasks WHERE session_id = ? AND cached = 1", (session_id,)
    ).fetchall()
    return {row["task_id"] for row in rows}


def test_an_unchanged_plan_runs_again_from_the_cache(project: Path) -> None:
    (project / "notes.txt").write_text("hello\n")
    (project / "other.txt").write_text("other\n")
    write_plan(project, PLAN)
    first = run()
    assert cached_tasks(project, first["session_id"]) == set()
    (project / "upper.txt").unlink()  # the outputs come back from the cache
    second = run()
    assert cached_tasks(project, second["session_id"]) == {"upper", "count", "other"}
    assert (project / "upper.txt").read_text() == "HELLO\n"
    conn = Store(project).connect()
    types = [
        r[0]
        for r in conn.execute(
            "SELECT type FROM events WHERE session_id = ? AND type = 'task_cached'",
            (second["session_id"],),
        )
    ]
    assert len(types) == 3
    assert json.loads(run_br("routing", "costs", "--json").stdout)["saved"]["hits"] == 3
    assert json.loads(run_br("telemetry", "summary", "--json").stdout)["cache"]["hits"] == 3
    gaps = json.loads(run_br("gaps", "analyze", "--json").stdout)["gaps"]
    assert {g["subject"] for g in gaps if g["kind"] == "task_cached"} == {"upper", "count", "other"}
    # one input changed: exactly the tasks downstream of it run again
    (project / "notes.txt").write_text("changed\n")
    third = run("--explain")
    assert cached_tasks(project, third["session_id"]) == {"other"}
    assert (project / "count.txt").read_text().strip() == "8"
    human = run_br("run", "plan.yaml", "--no-cache")
    assert human.returncode == 0, human.stderr
    session = json.loads(run_br("parallel", "list", "--json").stdout)["sessions"][-1]["id"]
    assert cached_tasks(project, session) == set()


def test_explain_says_why_a_task_missed(project: Path) -> None:
    (project / "notes.txt").write_text("hello\n")
    (project / "other.txt").write_text("other\n")
    write_plan(project, PLAN)
    run()
    (project / "notes.txt").write_text("changed\n")
    result = run_br("run", "plan.yaml", "--explain")
    assert result.returncode == 0, result.stderr
    assert "notes.txt" in result.stderr  # the miss names the input that changed
    assert "↺" in result.stderr  # and the unchanged task shows as cached


def test_a_cached_output_never_overwrites_a_file_the_user_changed(project: Path) -> None:
    (project / "notes.txt").write_text("hello\n")
    (project / "other.txt").write_text("other\n")
    write_plan(project, PLAN)
    run()
    (project / "copy.txt").write_text("my own edit\n")
    second = run()
    assert "other" not in cached_tasks(project, second["session_id"])  # it ran instead
    assert (project / "copy.txt").read_text() == "other\n"
