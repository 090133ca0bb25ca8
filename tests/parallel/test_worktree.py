"""`--isolate worktree`: runs in a git worktree, merges back, keeps the work on a conflict."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_br, write_plan


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_repo(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "Tester")
    (root / "shared.txt").write_text("original\n")
    git(root, "add", "shared.txt")
    git(root, "commit", "-qm", "initial")


def test_worktree_session_fast_forwards_its_changes(project: Path) -> None:
    make_repo(project)
    write_plan(
        project,
        "name: iso\ntasks:\n  - id: write\n    files: [made.txt]\n    run: sh -c 'pwd > made.txt'\n",
    )
    result = run_br("run", "plan.yaml", "--isolate", "worktree", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["merge"]["how"] == "fast-forward"
    made = (project / "made.txt").read_text()
    assert ".buildrunner/worktrees/" in made  # the task ran inside the worktree
    assert "made.txt" in git(project, "show", "--stat", "HEAD")
    assert "worktrees" not in git(project, "worktree", "list").split("\n", 1)[-1]


def test_merge_conflict_keeps_the_branch_and_reports(project: Path) -> None:
    make_repo(project)
    # the task edits shared.txt in its worktree while someone commits a different edit on main
    script = (
        "echo from-worktree > shared.txt && "
        f"cd {project} && echo from-main > shared.txt && git commit -qam main-edit"
    )
    write_plan(
        project,
        f"name: iso\ntasks:\n  - id: edit\n    run: {json.dumps('sh -c ' + json.dumps(script))}\n",
    )
    result = run_br("run", "plan.yaml", "--isolate", "worktree", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["merge"]["merged"] is False and data["merge"]["how"] == "conflict"
    branch = next(
        line.strip(" +*") for line in git(project, "branch").splitlines() if "br/" in line
    )
    assert git(project, "show", f"{branch}:shared.txt") == "from-worktree\n"
    assert (project / "shared.txt").read_text() == "from-main\n"  # main untouched, no half merge
    assert git(project, "status", "--porcelain").strip() in ("", "?? plan.yaml")


def test_worktree_needs_a_git_repository(project: Path) -> None:
    write_plan(project, "name: iso\ntasks:\n  - id: a\n    run: 'true'\n")
    result = run_br("run", "plan.yaml", "--isolate", "worktree")
    assert result.returncode == 2
    assert "needs a git repository" in result.stderr
