"""`br run` as a first-hour user meets it: where tasks run, what a failure shows, what it cost."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_br, write_plan
from tests.security.tokens import TokenFactory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository holding the demo under examples/demo, the current directory."""
    root = tmp_path / "repo"
    shutil.copytree(
        EXAMPLES / "demo",
        root / "examples" / "demo",
        ignore=shutil.ignore_patterns(".buildrunner", "build", "__pycache__"),
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("BR_PROJECT_DIR", raising=False)
    return root


def test_a_plan_runs_in_its_own_folder_from_anywhere(repo: Path) -> None:
    result = run_br("run", "examples/demo/plan.yaml", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "tasks run in ./examples/demo" in result.stderr
    assert "7 succeeded, 0 failed, 0 skipped" in result.stderr
    assert (repo / "examples" / "demo" / "build" / "calc.zip").is_file()
    assert (repo / ".buildrunner" / "buildrunner.db").is_file()  # the store: at the git top
    assert not (repo / "examples" / "demo" / ".buildrunner").exists()
    # and from inside the folder, the same store
    listed = run_br("parallel", "list", "--json", cwd=repo / "examples" / "demo")
    assert len(json.loads(listed.stdout)["sessions"]) == 1


def test_workdir_moves_where_tasks_run(repo: Path) -> None:
    (repo / "plans").mkdir()
    write_plan(
        repo / "plans",
        "name: w\nworkdir: ../examples/demo\ntasks:\n  - id: here\n    run: test -f plan.yaml\n",
    )
    result = run_br("run", "plans/plan.yaml")
    assert result.returncode == 0, result.stderr
    assert "tasks run in ./examples/demo" in result.stderr
    write_plan(repo / "plans", "name: w\nworkdir: nowhere\ntasks:\n  - id: a\n    run: 'true'\n")
    bad = run_br("run", "plans/plan.yaml")
    assert bad.returncode == 2 and "workdir 'nowhere' is not a folder" in bad.stderr


def test_a_failed_task_shows_the_end_of_its_output(project: Path) -> None:
    write_plan(project, "name: f\ntasks:\n  - id: listing\n    run: ls /nonexistent-folder\n")
    result = run_br("run", "plan.yaml")
    assert result.returncode == 1
    assert "No such file or directory" in result.stderr
    assert "cannot access" in result.stderr
    quiet = run_br("run", "plan.yaml", "--quiet")
    assert quiet.returncode == 1
    assert "No such file" not in quiet.stderr and "0 succeeded, 1 failed" in quiet.stderr


def test_the_closing_summary_says_what_it_cost_and_which_alerts_fired(project: Path) -> None:
    write_plan(project, "name: c\ntasks:\n  - id: a\n    run: 'true'\n")
    result = run_br("run", "plan.yaml", "--json")
    data = json.loads(result.stdout)
    assert data["cost_usd"] == "0.000000" and data["saved_usd"] == "0.000000"
    assert data["alerts"] == []
    human = run_br("run", "plan.yaml")
    assert "cost $0.000000" in human.stderr


def test_a_dry_run_never_shows_a_secret_from_the_plan(project: Path) -> None:
    token = TokenFactory(4).github()
    write_plan(
        project,
        f"name: d\ntasks:\n  - id: push\n    run: git push https://x:{token}@example.com/r\n",
    )
    human = run_br("run", "plan.yaml", "--dry-run")
    machine = run_br("run", "plan.yaml", "--dry-run", "--json")
    assert human.returncode == 0 and machine.returncode == 0
    assert token not in human.stderr + human.stdout
    assert token not in machine.stdout
    assert "push" in json.loads(machine.stdout)["tasks"][0]["run"]


def test_report_and_lock_waits_come_with_the_run(project: Path) -> None:
    write_plan(
        project,
        "name: r\ntasks:\n"
        "  - id: a\n    run: sleep 0.5\n    files: [shared.txt]\n"
        "  - id: b\n    run: sleep 0.2\n    files: [shared.txt]\n",
    )
    result = run_br("run", "plan.yaml", "--json", "--workers", "2", "--report", "build.html")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["report"].endswith("build.html") and (project / "build.html").stat().st_size > 1000
    assert data["lock_waits"]["tasks"] == 1 and data["lock_waits"]["seconds"] > 0
    row = data["results"][0]
    assert {"verdict", "rung", "fix_rounds", "cached", "cost_usd"} <= set(row)
    human = run_br("run", "plan.yaml", "--workers", "2")
    assert "waited" in human.stderr and "for files other tasks held" in human.stderr
