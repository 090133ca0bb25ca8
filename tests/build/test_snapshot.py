"""The snapshot holds what the user sees, and leaves their index and files exactly as they were."""

from __future__ import annotations

from pathlib import Path

from buildrunner.build.isolation import Isolation
from tests.build.conftest import census, git


def test_the_snapshot_holds_staged_unstaged_and_untracked_files_but_not_ignored_ones(
    repo: Path, iso: Isolation
) -> None:
    (repo / "app" / "models.py").write_text("def load():\n    return 'staged'\n")
    git(repo, "add", "app/models.py")
    (repo / "app" / "views.py").write_text("def show():\n    return 'unstaged'\n")
    (repo / "tools").mkdir()
    (repo / "tools" / "gen.sh").write_text("#!/bin/sh\necho generated\n")
    (repo / "tools" / "gen.sh").chmod(0o755)
    (repo / "debug.log").write_text("ignored\n")
    git(repo, "rm", "-q", "README.md")
    index_before = (repo / ".git" / "index").read_bytes()
    status_before = git(repo, "status", "--porcelain")
    files_before = census(repo)

    snap = iso.snapshot()

    listed = set(git(repo, "ls-tree", "-r", "--name-only", snap.commit).split())
    assert listed == {
        ".gitignore",
        "app/__init__.py",
        "app/models.py",
        "app/views.py",
        "tools/gen.sh",
    }
    assert git(repo, "show", f"{snap.commit}:app/models.py") == "def load():\n    return 'staged'\n"
    assert "unstaged" in git(repo, "show", f"{snap.commit}:app/views.py")
    assert "100755 blob" in git(repo, "ls-tree", snap.commit, "tools/gen.sh")
    assert snap.head == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-parse", snap.ref).strip() == snap.commit
    # the user's index, status and files are untouched, and HEAD did not move
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "status", "--porcelain") == status_before
    assert census(repo) == files_before
    assert git(repo, "log", "--format=%s", "-1").strip() == "initial"


def test_a_task_worktree_sees_untracked_inputs(repo: Path, iso: Isolation) -> None:
    (repo / "scripts").mkdir()
    (repo / "scripts" / "build.sh").write_text("#!/bin/sh\necho built\n")
    (repo / "scripts" / "build.sh").chmod(0o755)
    iso.snapshot()
    workspace = iso.workspace("build")
    script = workspace / "scripts" / "build.sh"
    assert script.read_text() == "#!/bin/sh\necho built\n"
    assert script.stat().st_mode & 0o111  # still executable: "command not found" never again
    assert (workspace / "app" / "models.py").read_text() == (repo / "app" / "models.py").read_text()
    assert ".buildrunner/worktrees/s1/build" in workspace.as_posix()


def test_a_repository_without_commits_can_be_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "first.txt").write_text("not committed yet\n")
    iso = Isolation(root, root / ".buildrunner", "s")
    snap = iso.snapshot()
    assert snap.head is None
    assert git(root, "show", f"{snap.commit}:first.txt") == "not committed yet\n"
    assert (iso.workspace("t") / "first.txt").read_text() == "not committed yet\n"


def test_the_snapshot_is_taken_once_per_session(repo: Path, iso: Isolation) -> None:
    first = iso.snapshot()
    (repo / "later.txt").write_text("after the snapshot\n")
    again = Isolation(repo, repo / ".buildrunner", "s1").snapshot()  # a restarted owner
    assert again.commit == first.commit
    assert "later.txt" not in git(repo, "ls-tree", "-r", "--name-only", again.commit)
