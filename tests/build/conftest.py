"""Real git repositories in temporary folders for the isolation tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildrunner.build.isolation import Isolation


def git(cwd: Path, *args: str) -> str:
    """Run git as a user would (their identity), return stdout."""
    return subprocess.run(
        ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def census(root: Path, *, skip: tuple[str, ...] = (".git", ".buildrunner")) -> dict[str, bytes]:
    """Every file below `root` (outside `skip`) with its content: to count files and bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skip or not path.is_file() or path.is_symlink():
            continue
        found[relative.as_posix()] = path.read_bytes()
    return found


def total_bytes(files: dict[str, bytes]) -> int:
    return sum(len(content) for content in files.values())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit: a small package, a README and an ignore file."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(
        "def load():\n    return 'load'\n\n\ndef save():\n    return 'save'\n"
    )
    (root / "app" / "views.py").write_text("def show():\n    return 'show'\n")
    (root / "README.md").write_text("# demo\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


@pytest.fixture
def iso(repo: Path) -> Isolation:
    """An isolated session 's1' of `repo`, its data under `.buildrunner/` (as br keeps it)."""
    data = repo / ".buildrunner"
    data.mkdir()
    (data / ".gitignore").write_text("*\n")
    return Isolation(repo, data, "s1")
