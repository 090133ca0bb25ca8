"""Task worktrees: one per task, found again after a restart, reused once a task is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.build.git import IsolationError
from buildrunner.build.isolation import Isolation
from tests.build.conftest import git


def worktree_count(repo: Path) -> int:
    return git(repo, "worktree", "list", "--porcelain").count("\nworktree ") + 1


def test_a_finished_tasks_worktree_is_reused_clean_for_the_next_task(
    repo: Path, iso: Isolation
) -> None:
    iso.snapshot()
    first = iso.workspace("first")
    (first / "README.md").write_text("# first\n")
    (first / "build.log").write_text("ignored output of the first task\n")
    iso.commit_task("first")
    (first / "stray.txt").write_text("written after the commit: dropped\n")
    iso.merge("first")  # done: its worktree goes back to the pool
    assert worktree_count(repo) == 2

    second = iso.workspace("second", iso.integration())

    assert worktree_count(repo) == 2  # reused, not made
    assert second.name == "second" and not first.exists()
    assert (second / "README.md").read_text() == "# first\n"  # from the integration tip
    assert not (second / "build.log").exists() and not (second / "stray.txt").exists()
    assert git(second, "rev-parse", "--abbrev-ref", "HEAD").strip() == "br/s1/second"
    assert git(second, "status", "--porcelain") == ""


def test_warmed_worktrees_serve_the_first_tasks(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    iso.warm(2)
    assert worktree_count(repo) == 3
    paths = [iso.workspace("a"), iso.workspace("b")]
    assert worktree_count(repo) == 3 and [path.name for path in paths] == ["a", "b"]
    iso.workspace("c")
    assert worktree_count(repo) == 4


def test_a_restarted_owner_finds_each_tasks_worktree_and_work(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    workspace = iso.workspace("t")
    (workspace / "half.txt").write_text("work in progress\n")
    restarted = Isolation(repo, repo / ".buildrunner", "s1")
    assert restarted.workspace("t") == workspace
    assert (workspace / "half.txt").read_text() == "work in progress\n"
    assert restarted.workdir("t", repo / "app") == workspace / "app"
    with pytest.raises(IsolationError, match="outside the repository"):
        restarted.workdir("t", repo.parent)


def test_a_released_task_gets_its_committed_work_back(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    (iso.workspace("t") / "README.md").write_text("# committed\n")
    iso.commit_task("t")
    iso.release("t")
    again = iso.workspace("t")  # e.g. a review sent it back for a fix round
    assert (again / "README.md").read_text() == "# committed\n"


def test_a_discarded_task_starts_over_from_a_new_base(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    (iso.workspace("t") / "README.md").write_text("# rejected attempt\n")
    iso.commit_task("t")
    iso.discard("t")
    fresh = iso.workspace("t")
    assert (fresh / "README.md").read_text() == "# demo\n"
    assert iso.state.tasks["t"].state == "open" and iso.state.tasks["t"].commit is None


def test_merged_work_cannot_change_or_be_discarded(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    (iso.workspace("t") / "README.md").write_text("# merged\n")
    iso.commit_task("t")
    iso.merge("t")
    with pytest.raises(IsolationError, match="already merged"):
        iso.commit_task("t")
    with pytest.raises(IsolationError, match="already merged"):
        iso.discard("t")


def test_a_task_released_before_its_merge_is_recorded_merged(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    (iso.workspace("t") / "README.md").write_text("# released first\n")
    iso.commit_task("t")
    iso.release("t")  # e.g. its worker moved on while it waited for review
    assert iso.merge("t").status == "merged"
    assert Isolation(repo, repo / ".buildrunner", "s1").state.tasks["t"].state == "merged"
