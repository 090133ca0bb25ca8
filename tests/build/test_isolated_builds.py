"""Isolated builds with real git: each task in its own worktree, merged back, landed at the end."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BR, run_br, write_plan


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(project: Path) -> Path:
    git(project, "init", "-q")
    git(project, "config", "user.email", "t@example.com")
    git(project, "config", "user.name", "t")
    (project / "module.py").write_text("A = 1\n\n\n\nB = 2\n")
    (project / ".gitignore").write_text(".buildrunner/\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "start")
    return project


def run_json(*args: str) -> dict[str, Any]:
    result = run_br("run", "plan.yaml", "--json", *args, timeout=180)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_tasks_see_untracked_files_and_their_work_lands_in_order(repo: Path) -> None:
    (repo / "helper.sh").write_text("echo from-untracked\n")  # never committed, never staged
    write_plan(
        repo,
        """\
name: iso
tasks:
  - id: first
    run: sh helper.sh > out.txt && sed -i 's/A = 1/A = 10/' module.py
    files: [out.txt, module.py]
  - id: second
    run: sed -i 's/B = 2/B = 20/' module.py
    files: [module.py]
  - id: after
    run: grep -q 'A = 10' module.py && grep -q 'B = 20' module.py && echo both > seen.txt
    files: [seen.txt]
    depends_on: [first, second]
""",
    )
    before = git(repo, "status", "--porcelain")
    data = run_json("--isolate", "task")
    assert data["status"] == "completed", data
    assert (repo / "out.txt").read_text() == "from-untracked\n"
    assert (repo / "module.py").read_text() == "A = 10\n\n\n\nB = 20\n"  # both merged
    assert (repo / "seen.txt").read_text() == "both\n"  # the dependent saw both
    assert data["merge"]["merged"] is True
    assert git(repo, "log", "--oneline").count("\n") == 1  # nothing committed on the user's branch
    assert "helper.sh" in before and "helper.sh" in git(repo, "status", "--porcelain")


def test_a_conflict_fails_the_task_keeps_its_branch_and_loses_nothing(repo: Path) -> None:
    write_plan(
        repo,
        """\
name: clash
tasks:
  - id: one
    run: sed -i 's/A = 1/A = 100/' module.py
    files: [module.py]
  - id: two
    run: sleep 0.5 && sed -i 's/A = 1/A = 200/' module.py
    files: [module.py]
""",
    )
    # both tasks start from the same snapshot only when they may overlap: give them no lock
    text = (repo / "plan.yaml").read_text().replace("    files: [module.py]\n", "")
    (repo / "plan.yaml").write_text(text)
    data = run_json("--isolate", "task", "--workers", "2")
    rows = {row["task_id"]: row for row in data["results"]}
    statuses = sorted(row["status"] for row in rows.values())
    assert statuses == ["failed", "succeeded"]
    failed = next(row for row in rows.values() if row["status"] == "failed")
    assert "merge conflict" in failed["error"]
    branches = git(repo, "branch", "--list", "br/*")
    assert failed["task_id"] in branches  # its work is kept on its branch
    value = (repo / "module.py").read_text().splitlines()[0]
    assert value in ("A = 100", "A = 200")


def test_files_the_user_changes_during_the_build_are_not_overwritten(repo: Path) -> None:
    write_plan(
        repo,
        """\
name: edits
tasks:
  - id: slow
    run: sleep 2 && sed -i 's/B = 2/B = 3/' module.py && echo done > note.txt
    files: [module.py, note.txt]
""",
    )
    build = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--isolate", "task", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list((repo / ".buildrunner" / "worktrees").rglob("module.py")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (repo / "module.py").write_text("A = 1\n\n\n\nB = 2\n# mine\n")  # the user edits meanwhile
    out, err = build.communicate(timeout=120)
    data = json.loads(out)
    assert data["status"] == "completed", err
    assert (repo / "module.py").read_text().endswith("# mine\n")  # kept, not overwritten
    assert (repo / "note.txt").read_text() == "done\n"  # the rest landed
    assert "module.py" in data["merge"]["detail"]


def test_approve_holds_the_work_until_br_review_approve(repo: Path) -> None:
    write_plan(
        repo,
        """\
name: gated
tasks:
  - id: change
    run: sed -i 's/A = 1/A = 5/' module.py
    files: [module.py]
    approve: true
""",
    )
    build = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        waiting = run_br("review", "--json")
        if waiting.returncode == 0 and "change" in waiting.stdout:
            break
        assert time.monotonic() < deadline, waiting.stderr
        time.sleep(0.2)
    assert (repo / "module.py").read_text().startswith("A = 1")  # nothing landed yet
    approved = run_br("review", "approve", "change", "--json")
    assert approved.returncode == 0, approved.stderr
    out, err = build.communicate(timeout=120)
    assert json.loads(out)["status"] == "completed", err
    assert (repo / "module.py").read_text().startswith("A = 5")
