"""`--isolate session` (and the old `--isolate worktree`): the session runs in one git worktree from a
snapshot of the current tree; at the end its work lands in the user's tree, uncommitted, never
over a file the user changed meanwhile."""

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
    assert data["merge"]["how"] == "landed" and data["merge"]["written"] == ["made.txt"]
    made = (project / "made.txt").read_text()
    assert ".buildrunner/worktrees/" in made  # the task ran inside the worktree
    assert git(project, "log", "--oneline").count("\n") == 1  # nothing committed for the user
    assert "?? made.txt" in git(project, "status", "--porcelain")


def test_a_file_changed_by_the_user_meanwhile_is_kept_with_the_work_on_its_branch(
    project: Path,
) -> None:
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
    result = run_br("run", "plan.yaml", "--isolate", "session", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [item["path"] for item in data["merge"]["kept"]] == ["shared.txt"]
    assert "shared.txt" in data["merge"]["detail"]
    branch = next(
        line.strip(" +*") for line in git(project, "branch").splitlines() if "br/" in line
    )
    assert git(project, "show", f"{branch}:shared.txt") == "from-worktree\n"  # the work is kept
    assert (project / "shared.txt").read_text() == "from-main\n"  # the user's edit too


def test_worktree_needs_a_git_repository(project: Path) -> None:
    write_plan(project, "name: iso\ntasks:\n  - id: a\n    run: 'true'\n")
    result = run_br("run", "plan.yaml", "--isolate", "worktree")
    assert result.returncode == 2
    assert "needs a git repository" in result.stderr
