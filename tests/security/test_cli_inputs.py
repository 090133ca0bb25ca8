"""`br security` on hostile trees and streams (issue 21 items 4, 7, 10; issue 18 item 10).

Unreadable paths are listed and fail the scan unless `--allow-skipped`; gitignore patterns git
accepts never raise; `mask` passes bytes through; file names never reach the terminal with their
escape sequences; SARIF describes rules and uses paths relative to the scanned repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_br
from tests.security.tokens import TokenFactory


def _clean_tree(root: Path) -> None:
    (root / "app").mkdir()
    (root / "app" / "main.py").write_text("print('hello')\n")


def test_broken_link_and_fifo_are_listed_and_fail_the_scan_unless_allowed(project: Path) -> None:
    _clean_tree(project)
    (project / "app" / "gone.py").symlink_to(project / "app" / "missing.py")
    (project / "app" / "loop.py").symlink_to(project / "app" / "loop.py")
    os.mkfifo(project / "app" / "queue")
    result = run_br("security", "scan", "--format", "json", timeout=60)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == [] and report["incomplete"] is True
    reasons = {item["path"]: item["reason"] for item in report["skipped_files"]}
    assert reasons["app/gone.py"].startswith("unreadable: broken symlink")
    assert reasons["app/loop.py"].startswith("unreadable: broken symlink")
    assert reasons["app/queue"] == "unreadable: not a regular file"
    human = run_br("security", "scan", timeout=60)
    assert human.returncode == 1 and "3 path(s) could not be read" in human.stderr
    allowed = run_br("security", "scan", "--allow-skipped", "--format", "json", timeout=60)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["skipped"]["unreadable"] == 3


def test_a_folder_that_cannot_be_listed_is_not_reported_clean(project: Path) -> None:
    """chmod 000 stops nobody when tests run as root: the scan then runs as `nobody`."""
    _clean_tree(project)
    closed = project / "closed"
    closed.mkdir()
    (closed / "keys.py").write_text(f'TOKEN = "{TokenFactory(seed=4).github()}"\n')
    closed.chmod(0)
    project.chmod(0o755)
    for parent in project.parents:  # the test's tmp folders must be traversable by `nobody`
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    code = (  # everything is imported first: `nobody` cannot read root's Python installation
        "import json, os, sys, pathlib\n"
        "from buildrunner.security import filetypes, walk\n"
        "from buildrunner.security.masking import default_engine\n"
        "from buildrunner.security.scanner import ScanOptions, scan_paths\n"
        "default_engine().find('warm', 'x')\n"
        "if os.geteuid() == 0:\n"
        "    os.setgid(65534); os.setuid(65534)\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "report = scan_paths([root], root=root, options=ScanOptions(sql=False, jobs=1))\n"
        "print(json.dumps(report.to_dict()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        result = subprocess.run(
            [sys.executable, "-c", code, str(project)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        closed.chmod(0o755)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == [] and report["incomplete"] is True
    assert {"path": "closed/", "reason": "unreadable: Permission denied"} in report["skipped_files"]


@pytest.mark.parametrize("pattern", ["!", "\\", "[z-a]", "abc\\", "[", "**/[z-a]/x"])
def test_gitignore_and_allow_path_patterns_git_accepts_never_raise(
    project: Path, pattern: str
) -> None:
    token = TokenFactory(seed=5).github()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text(f"{pattern}\nignored.py\n")
    (project / "ignored.py").write_text(f'TOKEN = "{token}"\n')
    (project / "kept.py").write_text(f'TOKEN = "{token}"\n')
    (project / "pyproject.toml").write_text(
        f"[tool.buildrunner.security]\nallow_paths = [{json.dumps(pattern)}, 'docs/**']\n"
    )
    result = run_br("security", "scan", "--format", "json")
    assert result.returncode == 1, result.stderr
    assert [f["path"] for f in json.loads(result.stdout)["findings"]] == ["kept.py"]


def test_mask_passes_non_utf8_bytes_through_and_never_stops(project: Path) -> None:
    token = TokenFactory(seed=6).github()
    stream = (
        b"start \xff\xfe binary \x80\n"
        + f"export GITHUB_TOKEN={token}\n".encode()
        + b"latin-1 caf\xe9 \xc3\n"
        + b"last line without newline \xff"
    )
    result = subprocess.run(
        [sys.executable, "-m", "buildrunner", "security", "mask"],
        input=stream,
        capture_output=True,
        timeout=60,
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split(b"\n")
    assert lines[0] == b"start \xff\xfe binary \x80"
    assert token.encode() not in result.stdout
    assert lines[1].startswith(b"export GITHUB_TOKEN=" + token[:4].encode())
    assert lines[2] == b"latin-1 caf\xe9 \xc3"
    assert lines[3] == b"last line without newline \xff"


def test_file_names_with_escape_sequences_are_shown_escaped(project: Path) -> None:
    token = TokenFactory(seed=7).github()
    name = "src/\x1b[31mred\x1b[0m\x1b]0;title\x07.py"
    (project / "src").mkdir()
    (project / name).write_text(f'TOKEN = "{token}"\n')
    human = run_br("security", "scan")
    assert human.returncode == 1
    assert "\x1b" not in human.stderr and "\x07" not in human.stderr
    assert "\\e[31mred" in human.stderr
    machine = run_br("security", "scan", "--format", "json")
    assert json.loads(machine.stdout)["findings"][0]["path"] == name  # JSON keeps the real name


def test_sarif_describes_rules_and_uses_the_scanned_repository_root(
    tmp_path: Path, project: Path
) -> None:
    repo = tmp_path / "other-repo"
    (repo / "app").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "app" / "db.py").write_text(
        "def find(cur, name):\n    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n"
    )
    (repo / "app" / "also.py").write_text(
        'def drop(cur, table):\n    cur.execute(f"DROP TABLE {table}")\n'
    )
    result = run_br("security", "scan", "--format", "sarif", str(repo / "app"))
    assert result.returncode == 1, result.stderr
    run = json.loads(result.stdout)["runs"][0]
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["id"] == "sqli-python-fstring"
    assert rule["shortDescription"]["text"] == (
        "SQL injection (Python): a query built with an f-string from non-constant data reaches a "
        "database call"
    )
    assert "name" not in rule["shortDescription"]["text"].split("from")[0]
    uris = sorted(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    )
    assert uris == ["app/also.py", "app/db.py"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
