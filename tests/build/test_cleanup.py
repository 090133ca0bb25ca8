"""Cleanup removes worktrees and refs, and keeps every branch holding work the user's tree lacks."""

from __future__ import annotations

from pathlib import Path

from buildrunner.build.cleanup import all_kept_branches, cleanup_isolation, isolated_sessions
from buildrunner.build.isolation import Isolation
from buildrunner.parallel.worktree import create_worktree
from tests.build.conftest import git


def worktree_paths(repo: Path) -> list[str]:
    return [
        line.split(" ", 1)[1]
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/br/").split())


def session_of_every_kind(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    for task_id, text in (("landed", "a"), ("conflict", "b"), ("waiting", "c"), ("rejected", "d")):
        workspace = iso.workspace(task_id)
        (workspace / "README.md").write_text(f"# {text}\n")
        iso.commit_task(task_id)
    iso.workspace("noop")
    iso.commit_task("noop")
    iso.merge("landed")
    assert iso.merge("conflict").status == "conflict"
    iso.discard("rejected")
    iso.land()


def test_cleanup_keeps_and_lists_branches_with_unlanded_work_until_forced(
    repo: Path, iso: Isolation
) -> None:
    session_of_every_kind(repo, iso)
    assert len(worktree_paths(repo)) == 6

    result = iso.cleanup()

    assert worktree_paths(repo) == [str(repo)]  # every task worktree is gone
    assert not (repo / ".buildrunner" / "worktrees" / "s1").exists()
    assert {item.task_id: item.state for item in result.kept} == {
        "conflict": "conflict",
        "waiting": "committed",
    }
    assert branches(repo) == {"br/s1/conflict", "br/s1/waiting"}
    assert sorted(result.branches_deleted) == ["br/s1/landed", "br/s1/noop", "br/s1/rejected"]
    assert git(repo, "show", "br/s1/conflict:README.md") == "# b\n"  # the work itself is there
    listed = all_kept_branches(repo, repo / ".buildrunner")
    assert sorted(item.branch for item in listed) == ["br/s1/conflict", "br/s1/waiting"]
    assert isolated_sessions(repo / ".buildrunner") == ["s1"]  # the journal stays with them

    forced = cleanup_isolation(repo, repo / ".buildrunner", "s1", force=True)

    assert forced.kept == [] and sorted(forced.branches_deleted) == [
        "br/s1/conflict",
        "br/s1/waiting",
    ]
    assert branches(repo) == set()
    assert git(repo, "for-each-ref", "refs/buildrunner/") == ""
    assert isolated_sessions(repo / ".buildrunner") == []
    assert all_kept_branches(repo, repo / ".buildrunner") == []


def test_a_session_whose_work_all_landed_leaves_nothing_behind(repo: Path, iso: Isolation) -> None:
    iso.snapshot()
    (iso.workspace("t") / "README.md").write_text("# landed\n")
    iso.commit_task("t")
    iso.merge("t")
    iso.land()
    dry = iso.cleanup(dry_run=True)
    assert dry.branches_deleted == ["br/s1/t"] and len(worktree_paths(repo)) == 2
    result = iso.cleanup()
    assert result.kept == [] and result.refs_deleted == 3  # snapshot, integration, landed
    assert branches(repo) == set() and worktree_paths(repo) == [str(repo)]
    assert git(repo, "for-each-ref", "refs/buildrunner/") == ""
    assert (repo / "README.md").read_text() == "# landed\n"


def test_a_session_worktree_left_behind_is_committed_then_removed(repo: Path) -> None:
    data = repo / ".buildrunner"
    tree = create_worktree(repo, data, "old-session")
    (tree.path / "unfinished.txt").write_text("work nobody merged\n")

    result = cleanup_isolation(repo, data, "old-session")

    assert result.worktrees_removed == [str(data / "worktrees" / "old-session")]
    assert worktree_paths(repo) == [str(repo)]
    [kept] = result.kept
    assert (kept.branch, kept.task_id) == ("br/old-session", None)
    assert git(repo, "show", "br/old-session:unfinished.txt") == "work nobody merged\n"
    assert [item.branch for item in all_kept_branches(repo, data)] == ["br/old-session"]
    assert cleanup_isolation(repo, data, "old-session", force=True).branches_deleted == [
        "br/old-session"
    ]
    assert branches(repo) == set()


def test_a_session_branch_that_head_holds_is_deleted(repo: Path) -> None:
    data = repo / ".buildrunner"
    create_worktree(repo, data, "merged-session")
    git(repo, "worktree", "remove", str(data / "worktrees" / "merged-session"))
    result = cleanup_isolation(repo, data, "merged-session")
    assert result.kept == [] and result.branches_deleted == ["br/merged-session"]
