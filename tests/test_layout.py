"""One layout: .buildrunner/ is private (0700, ignored, made only by commands that write);
buildrunner.toml and .buildrunner-baseline.json at the root are meant to be committed."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.conftest import run_br


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=True
    ).stdout


def test_a_team_can_commit_the_baseline_and_the_settings(project: Path) -> None:
    git(project, "init", "-q")
    (project / "app.py").write_text('KEY = "AKIAIOSFODNN7EXAMPLE"\n')
    run_br("security", "baseline").assert_success()
    assert (project / ".buildrunner-baseline.json").is_file()
    assert not (project / ".buildrunner").exists()  # a command that writes only the baseline
    run_br("init").assert_success()
    assert (project / "buildrunner.toml").is_file()
    data_dir = project / ".buildrunner"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    git(project, "add", "-A")
    staged = set(git(project, "diff", "--cached", "--name-only").split())
    assert {".buildrunner-baseline.json", "buildrunner.toml", "app.py"} <= staged
    assert not any(name.startswith(".buildrunner/") for name in staged)


def test_the_shared_settings_are_read(project: Path) -> None:
    (project / "buildrunner.toml").write_text("[run]\nworkers = 3\n[store]\nbusy_timeout_s = inf\n")
    result = run_br("parallel", "list").assert_exit(2)
    assert "store.busy_timeout_s" in result.stderr and "finite" in result.stderr


def test_read_only_commands_leave_a_fresh_clone_untouched(project: Path) -> None:
    git(project, "init", "-q")
    for command in (
        ["parallel", "list", "--json"],
        ["telemetry", "summary", "--json"],
        ["routing", "costs", "--json"],
        ["quality", "check", "--json"],
    ):
        result = run_br(*command)
        assert result.returncode in (0, 1), result.explain()
    assert git(project, "status", "--porcelain") == ""
