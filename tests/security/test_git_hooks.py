"""The pre-commit hook and staged/history checks, driven through real git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildrunner.errors import SecurityError
from buildrunner.security import hooks
from buildrunner.security.check import check_staged, scan_history
from buildrunner.security.scanner import ScanOptions
from tests.security.tokens import TokenFactory


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    env.pop("BR_PROJECT_DIR", None)
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=check
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# demo\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "init")
    return root


def _secret_line(seed: int = 1) -> tuple[str, str]:
    token = TokenFactory(seed=seed).github()
    return token, f'GITHUB_TOKEN = "{token}"\n'


def test_hook_blocks_a_secret_lets_clean_commits_through_and_no_verify_bypasses(repo: Path) -> None:
    status = hooks.install(repo)
    assert status.installed and status.python == sys.executable
    token, line = _secret_line()
    (repo / "config.py").write_text(line)
    git(repo, "add", "config.py")
    blocked = git(repo, "commit", "-m", "add config", check=False)
    assert blocked.returncode != 0
    assert "commit blocked" in blocked.stderr and "config.py:1" in blocked.stderr
    assert token not in blocked.stderr + blocked.stdout
    assert "--no-verify" in blocked.stderr
    assert git(repo, "log", "--oneline").stdout.count("\n") == 1

    bypass = git(repo, "commit", "-q", "--no-verify", "-m", "add config anyway", check=False)
    assert bypass.returncode == 0

    (repo / "app.py").write_text("print('hello')\n")
    git(repo, "add", "app.py")
    assert git(repo, "commit", "-q", "-m", "clean", check=False).returncode == 0


def test_staged_check_reports_only_added_lines(repo: Path) -> None:
    _, line = _secret_line(2)
    (repo / "settings.py").write_text(line)
    git(repo, "add", "settings.py")
    git(repo, "commit", "-q", "--no-verify", "-m", "old secret")
    (repo / "settings.py").write_text(line + "DEBUG = False\n")
    git(repo, "add", "settings.py")
    assert check_staged(repo, ScanOptions()).findings == []
    _, other = _secret_line(3)
    (repo / "settings.py").write_text(line + "DEBUG = False\n" + other)
    git(repo, "add", "settings.py")
    report = check_staged(repo, ScanOptions())
    assert [(f.path, f.line) for f in report.findings] == [("settings.py", 3)]


def test_staged_check_reads_the_index_not_the_work_tree(repo: Path) -> None:
    _, line = _secret_line(4)
    (repo / "a.py").write_text(line)
    git(repo, "add", "a.py")
    (repo / "a.py").write_text("x = 1\n")  # fixed in the work tree but not staged
    assert [f.path for f in check_staged(repo, ScanOptions()).findings] == ["a.py"]


def test_staged_check_covers_sql_injection_on_added_lines(repo: Path) -> None:
    (repo / "db.py").write_text(
        "def find(cur, name):\n    cur.execute(f\"SELECT * FROM u WHERE n = '{name}'\")\n"
    )
    git(repo, "add", "db.py")
    report = check_staged(repo, ScanOptions())
    assert [(f.kind, f.line) for f in report.findings] == [("sql_injection", 2)]


def test_staged_binary_files_are_skipped_and_counted(repo: Path) -> None:
    _, line = _secret_line(5)
    (repo / "blob.dat").write_bytes(b"\x00\x01" + line.encode())
    git(repo, "add", "blob.dat")
    report = check_staged(repo, ScanOptions())
    assert report.findings == [] and report.skipped_counts() == {"binary": 1}


def test_history_scan_finds_a_secret_removed_later(repo: Path) -> None:
    token, line = _secret_line(6)
    (repo / "deploy.sh").write_text("echo start\n" + line)
    git(repo, "add", "deploy.sh")
    git(repo, "commit", "-q", "--no-verify", "-m", "leak")
    leak = git(repo, "rev-parse", "HEAD").stdout.strip()
    (repo / "deploy.sh").write_text("echo start\n")
    git(repo, "commit", "-q", "-am", "remove")
    report = scan_history(repo, ScanOptions())
    assert [(f.path, f.line, f.extra["commit"]) for f in report.findings] == [
        ("deploy.sh", 2, leak)
    ]
    assert token not in str([f.to_dict() for f in report.findings])


def test_foreign_hook_is_refused_chained_or_replaced_with_a_backup(repo: Path) -> None:
    hook_dir = repo / ".git" / "hooks"
    foreign = hook_dir / "pre-commit"
    foreign.write_text("#!/bin/sh\necho foreign-hook-ran >&2\nexit 0\n")
    foreign.chmod(0o755)
    with pytest.raises(SecurityError, match="--chain"):
        hooks.install(repo)
    assert "foreign-hook-ran" in foreign.read_text()

    status = hooks.install(repo, chain=True)
    assert status.installed and status.chained
    (repo / "x.py").write_text("x = 1\n")
    git(repo, "add", "x.py")
    result = git(repo, "commit", "-m", "x", check=False)
    assert result.returncode == 0 and "foreign-hook-ran" in result.stderr

    status = hooks.uninstall(repo)
    assert not status.installed and status.foreign and not status.chained
    assert "foreign-hook-ran" in foreign.read_text()

    status = hooks.install(repo, force=True)
    assert status.installed and (hook_dir / hooks.BACKUP).read_text().count("foreign-hook-ran") == 1


def test_failing_chained_hook_blocks_the_commit(repo: Path) -> None:
    foreign = repo / ".git" / "hooks" / "pre-commit"
    foreign.write_text("#!/bin/sh\nexit 3\n")
    foreign.chmod(0o755)
    hooks.install(repo, chain=True)
    (repo / "y.py").write_text("y = 1\n")
    git(repo, "add", "y.py")
    assert git(repo, "commit", "-m", "y", check=False).returncode != 0


def test_install_is_idempotent_and_uninstall_refuses_foreign_hooks(repo: Path) -> None:
    hooks.install(repo)
    assert hooks.install(repo).installed
    hooks.uninstall(repo)
    assert not hooks.status(repo).installed
    foreign = repo / ".git" / "hooks" / "pre-commit"
    foreign.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(SecurityError):
        hooks.uninstall(repo)


def test_hook_falls_back_to_br_when_the_embedded_python_is_gone(repo: Path, tmp_path: Path) -> None:
    hooks.install(repo, python=str(tmp_path / "missing" / "python"))
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "br").write_text(f'#!/bin/sh\nexec {sys.executable} -m buildrunner "$@"\n')
    (fake_bin / "br").chmod(0o755)
    _, line = _secret_line(7)
    (repo / "c.py").write_text(line)
    git(repo, "add", "c.py")
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    env.pop("BR_PROJECT_DIR", None)
    result = subprocess.run(
        ["git", "commit", "-m", "c"], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "commit blocked" in result.stderr


def test_precommit_entry_imports_no_cli_libraries(repo: Path) -> None:
    code = (
        "import sys, runpy; sys.argv=['x']\n"
        "try:\n    runpy.run_module('buildrunner.security.precommit', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('typer', 'rich', 'pydantic', 'click') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_staged_paths_with_spaces_and_unicode(repo: Path) -> None:
    _, line = _secret_line(8)
    folder = repo / "dir ü"
    folder.mkdir()
    (folder / "my file.py").write_text("x = 1\n" + line)
    git(repo, "add", ".")
    assert [(f.path, f.line) for f in check_staged(repo, ScanOptions()).findings] == [
        ("dir ü/my file.py", 2)
    ]


def test_staged_file_with_a_quoted_non_ascii_name_is_still_checked(repo: Path) -> None:
    token, line = _secret_line(seed=7)
    name = 'ü"q.py'  # git C-quotes this name in diffs
    (repo / name).write_text(line)
    git(repo, "add", name)
    report = check_staged(repo, ScanOptions())
    assert [finding.path for finding in report.findings] == [name]
    assert token not in str([finding.to_dict() for finding in report.findings])


def test_history_scan_with_secrets_off_reports_nothing(repo: Path) -> None:
    _, line = _secret_line(seed=8)
    (repo / "old.py").write_text(line)
    git(repo, "add", "old.py")
    git(repo, "commit", "-q", "-m", "leak")
    assert scan_history(repo, ScanOptions()).findings
    assert scan_history(repo, ScanOptions(secrets=False)).findings == []
