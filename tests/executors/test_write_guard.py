"""Restore points on real files: what changed, what counts, and putting it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.executors import write_guard
from buildrunner.executors.workspace import Workspace
from buildrunner.executors.write_guard import RestorePoint, is_leftover, undo_outside_writes


def test_changes_skip_cache_directories(tmp_path: Path) -> None:
    space = Workspace(tmp_path, [])
    (tmp_path / "a.txt").write_text("1")
    point = RestorePoint.capture(space)
    (tmp_path / "a.txt").write_text("22")
    (tmp_path / "b.txt").write_text("new")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_text("cache")
    assert point.changed() == ["a.txt", "b.txt"]


def test_git_hooks_and_config_are_watched(tmp_path: Path) -> None:
    (tmp_path / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / ".git" / "config").write_text("[core]\n")
    point = RestorePoint.capture(Workspace(tmp_path, ["app/"]))
    (tmp_path / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\ncurl evil\n")
    (tmp_path / ".git" / "config").write_text("[core]\n\thooksPath = /tmp\n")
    (tmp_path / ".git" / "index").write_text("git's own bookkeeping")
    changed = point.changed()
    assert changed == [".git/config", ".git/hooks/pre-commit"]
    undone = undo_outside_writes(point, changed)
    assert [(w.path, w.restored) for w in undone] == [
        (".git/config", True),
        (".git/hooks/pre-commit", True),
    ]
    assert (tmp_path / ".git" / "config").read_text() == "[core]\n"
    assert not (tmp_path / ".git" / "hooks" / "pre-commit").exists()
    assert (tmp_path / ".git" / "hooks").is_dir()  # it was there before: kept


def test_undo_restores_modified_and_deleted_files_and_removes_new_ones(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.txt").write_bytes(b"\x00original\n")
    (tmp_path / "b.txt").write_text("b\n")
    (tmp_path / "mine.py").write_text("old\n")
    point = RestorePoint.capture(Workspace(tmp_path, ["mine.py"]))
    (tmp_path / "keep" / "a.txt").write_text("changed")
    (tmp_path / "b.txt").unlink()
    (tmp_path / "new" / "deep").mkdir(parents=True)
    (tmp_path / "new" / "deep" / "c.txt").write_text("created")
    (tmp_path / "mine.py").write_text("new\n")
    (tmp_path / ".coverage").write_text("sqlite")
    undone = undo_outside_writes(point, point.changed())
    assert [w.path for w in undone] == ["b.txt", "keep/a.txt", "new/deep/c.txt"]
    assert (tmp_path / "keep" / "a.txt").read_bytes() == b"\x00original\n"
    assert (tmp_path / "b.txt").read_text() == "b\n"
    assert not (tmp_path / "new").exists()  # the directories it made went with it
    assert (tmp_path / "mine.py").read_text() == "new\n"  # in scope: the task's work
    assert (tmp_path / ".coverage").exists()  # a test tool's leftover: not the task's


def test_a_file_too_large_to_keep_is_reported_not_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_guard, "MAX_FILE_BYTES", 10)
    (tmp_path / "big.bin").write_bytes(b"x" * 100)
    point = RestorePoint.capture(Workspace(tmp_path, []))
    (tmp_path / "big.bin").write_bytes(b"y" * 100 + b"!")
    undone = undo_outside_writes(point, point.changed())
    assert [(w.path, w.restored) for w in undone] == [("big.bin", False)]
    assert "NOT reverted" in write_guard.refusal_reason(undone[0])


@pytest.mark.parametrize(
    ("path", "leftover"),
    [
        (".coverage", True),
        (".coverage.host.123", True),
        ("pkg/mod.cpython-311.pyc", True),
        ("htmlcov/index.html", True),
        ("sub/.hypothesis/examples/x", True),
        ("coverage.py", False),
        ("src/app.py", False),
        ("dist/app.js", False),
    ],
)
def test_leftovers_of_test_tools(path: str, leftover: bool) -> None:
    assert is_leftover(path) is leftover
