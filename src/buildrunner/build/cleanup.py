"""Cleaning up after isolated sessions without losing work.

Worktrees of a finished session always go (their content is committed, or was never accepted).
A task's branch goes too, unless it holds work that is not in the user's tree: a change waiting
to merge, a conflict, merged work that was not landed, or files that were kept in the user's
version. Such branches are kept and listed until `force`. The same holds for the one-worktree-
per-session isolation (`--isolate worktree`, branch `br/<session>`): its uncommitted changes are
committed to its branch before the folder goes, and a branch whose commits HEAD does not hold is
kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildrunner.build.git import Git, repository_top
from buildrunner.build.isolation_state import (
    BRANCH_PREFIX,
    PRIVATE_REFS,
    UNLANDED_WORK,
    SessionState,
    known_sessions,
    load_state,
    ref_component,
    session_dir,
)
from buildrunner.build.worktrees import commit_worktree, registered_worktrees, remove_worktree

WHY_KEPT = {
    "committed": "a change that was never merged",
    "merged": "merged work that was never landed in your tree",
    "conflict": "a change that conflicts with work merged before it",
    "kept": "files you changed during the build (the merged version is here)",
    "session": "commits that your HEAD does not hold",
}


@dataclass(frozen=True)
class KeptBranch:
    session_id: str
    task_id: str | None  # None for a session worktree's branch
    branch: str
    state: str
    reason: str
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "task_id": self.task_id,
            "branch": self.branch,
            "state": self.state,
            "reason": self.reason,
            "files": self.files,
        }


@dataclass
class CleanupResult:
    worktrees_removed: list[str] = field(default_factory=list)
    branches_deleted: list[str] = field(default_factory=list)
    refs_deleted: int = 0
    kept: list[KeptBranch] = field(default_factory=list)
    dry_run: bool = False

    def extend(self, other: CleanupResult) -> None:
        self.worktrees_removed += other.worktrees_removed
        self.branches_deleted += other.branches_deleted
        self.refs_deleted += other.refs_deleted
        self.kept += other.kept

    def to_json(self) -> dict[str, Any]:
        return {
            "worktrees_removed": self.worktrees_removed,
            "branches_deleted": self.branches_deleted,
            "refs_deleted": self.refs_deleted,
            "kept": [item.to_json() for item in self.kept],
            "dry_run": self.dry_run,
        }


def kept_branches(state: SessionState, git: Git) -> list[KeptBranch]:
    """Branches of a session that hold work the user's tree does not have."""
    found = []
    for record in state.tasks.values():
        if record.state in UNLANDED_WORK and git.commit_id(f"refs/heads/{record.branch}"):
            files = record.kept or record.conflicts or record.files
            found.append(
                KeptBranch(
                    state.session_id,
                    record.task_id,
                    record.branch,
                    record.state,
                    WHY_KEPT[record.state],
                    files,
                )
            )
    return found


def cleanup_isolation(
    repo: Path,
    data_dir: Path,
    session_id: str,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> CleanupResult:
    """Remove one finished session's worktrees, branches and refs (see the module docstring)."""
    git = Git(repository_top(repo))
    state = load_state(data_dir, session_id, git.cwd)
    result = CleanupResult(dry_run=dry_run)
    keep = [] if force else kept_branches(state, git)
    kept_names = {item.branch for item in keep}
    result.kept += keep
    for worktree in _task_worktrees(git, data_dir / "worktrees" / ref_component(session_id)):
        result.worktrees_removed.append(str(worktree))
        if not dry_run:
            remove_worktree(git, worktree)
    for record in state.tasks.values():
        if record.branch not in kept_names and git.commit_id(f"refs/heads/{record.branch}"):
            result.branches_deleted.append(record.branch)
            if not dry_run:
                git.run("branch", "-D", record.branch, check=False)
    legacy = _cleanup_session_worktree(git, data_dir, session_id, force=force, dry_run=dry_run)
    result.extend(legacy)
    if not result.kept:
        private = git.refs(f"{PRIVATE_REFS}/{ref_component(session_id)}/")
        result.refs_deleted = len(private)
        if not dry_run:
            for ref in private:
                git.delete_ref(ref)
            shutil.rmtree(session_dir(data_dir, session_id), ignore_errors=True)
    if not dry_run:
        _remove_empty(data_dir / "worktrees" / ref_component(session_id))
    return result


def _task_worktrees(git: Git, root: Path) -> list[Path]:
    """The task (and pooled) worktrees of a session: every folder below its worktrees folder."""
    if not root.is_dir() or root.resolve() in registered_worktrees(git):
        return []  # none, or the one worktree of `--isolate worktree` (see below)
    return sorted(path for path in root.iterdir() if path.is_dir())


def _cleanup_session_worktree(
    git: Git,
    data_dir: Path,
    session_id: str,
    *,
    force: bool,
    dry_run: bool,
) -> CleanupResult:
    """The `--isolate worktree` folder `.buildrunner/worktrees/<session>` on branch br/<session>."""
    result = CleanupResult(dry_run=dry_run)
    path = data_dir / "worktrees" / session_id
    branch = f"{BRANCH_PREFIX}/{session_id}"
    if path.resolve() in registered_worktrees(git) and path.is_dir():
        result.worktrees_removed.append(str(path))
        if not dry_run:
            commit_worktree(path, branch, f"br: work left in session {session_id}'s worktree")
            remove_worktree(git, path)
    tip = git.commit_id(f"refs/heads/{branch}")
    if tip is None:
        return result
    head = git.commit_id("HEAD")
    held = head is not None and git.ok("merge-base", "--is-ancestor", tip, head)
    if not held and not force:
        result.kept.append(KeptBranch(session_id, None, branch, "session", WHY_KEPT["session"]))
    else:
        result.branches_deleted.append(branch)
        if not dry_run:
            git.run("branch", "-D", branch, check=False)
    return result


def all_kept_branches(repo: Path, data_dir: Path) -> list[KeptBranch]:
    """Every branch, across sessions, that holds work not in the user's tree."""
    git = Git(repository_top(repo))
    found: list[KeptBranch] = []
    for folder in known_sessions(data_dir):
        state = load_state(data_dir, folder.name, git.cwd)
        found += kept_branches(state, git)
    for ref in git.refs(f"refs/heads/{BRANCH_PREFIX}/"):
        name = ref[len("refs/heads/") :]
        session = name[len(BRANCH_PREFIX) + 1 :]
        if "/" in session:
            continue  # a task branch: its journal said above whether it holds work
        held = git.ok("merge-base", "--is-ancestor", ref, "HEAD")
        if not held:
            found.append(KeptBranch(session, None, name, "session", WHY_KEPT["session"]))
    return found


def cleanup_project(
    repo: Path,
    data_dir: Path,
    finished: list[str],
    known: set[str],
    *,
    force: bool = False,
    dry_run: bool = False,
) -> CleanupResult:
    """Clean up the `finished` sessions, and any isolated session the store no longer knows
    (deleted earlier with branches kept: those go now only with `force`)."""
    result = CleanupResult(dry_run=dry_run)
    orphans = [session for session in isolated_sessions(data_dir) if session not in known]
    for session_id in dict.fromkeys([*finished, *orphans]):
        result.extend(cleanup_isolation(repo, data_dir, session_id, force=force, dry_run=dry_run))
    return result


def isolated_sessions(data_dir: Path) -> list[str]:
    """Session ids that have an isolation journal or worktrees folder on disk."""
    ids = {folder.name for folder in known_sessions(data_dir)}
    worktrees = data_dir / "worktrees"
    if worktrees.is_dir():
        ids |= {folder.name for folder in worktrees.iterdir() if folder.is_dir()}
    return sorted(ids)


def _remove_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
