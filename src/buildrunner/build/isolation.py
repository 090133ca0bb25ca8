"""Isolation of a session's tasks: snapshot, a worktree per task, merge-back in order, landing.

The build loop calls, for one session:

    iso = Isolation(repo, store.data_dir, session_id)
    iso.snapshot()                                   # once, before the first task
    path = iso.workspace(task_id, iso.integration()) # the tip holding its dependencies' work
    ... the task runs in iso.workdir(task_id, session_workdir) ...
    change = iso.commit_task(task_id)                # None when it changed nothing
    result = iso.merge(task_id)                      # accepted tasks, in dependency order
    landed = iso.land()                              # at the end: the user's tree gets the work
    iso.cleanup()                                    # worktrees go; unlanded work stays listed

Everything survives a restart: `Isolation(...)` on the same session id reads the journal and refs
back, `resume()` finishes a landing interrupted by a kill, `rollback()` undoes it.

For `isolate: session` (one worktree for all of a session's tasks), use one workspace named
SESSION_WORKSPACE for them: no task id can take that name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from buildrunner.build.cleanup import CleanupResult, cleanup_isolation
from buildrunner.build.git import Git, IsolationError, repository_top
from buildrunner.build.isolation_state import (
    SessionState,
    TaskRecord,
    load_state,
    ref_component,
    save_state,
    session_dir,
    session_ref,
    task_branch,
)
from buildrunner.build.landing import LandResult, land_changes, read_journal, rollback_changes
from buildrunner.build.merge import ConflictHunk, merge_trees
from buildrunner.build.snapshot import Snapshot, take_snapshot
from buildrunner.build.worktrees import (
    ChangedFile,
    WorktreePool,
    changed_files,
    commit_worktree,
    is_worktree,
)

SESSION_WORKSPACE = "_session"  # task ids start with a letter or digit


@dataclass(frozen=True)
class TaskChange:
    task_id: str
    branch: str
    base: str
    commit: str
    files: list[ChangedFile]

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "branch": self.branch,
            "base": self.base,
            "commit": self.commit,
            "files": [{"path": f.path, "status": f.status} for f in self.files],
        }


@dataclass(frozen=True)
class MergeResult:
    task_id: str
    status: Literal["merged", "conflict", "unchanged", "already-merged"]
    branch: str
    integration: str  # the integration tip after this step
    files: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    hunks: list[ConflictHunk] = field(default_factory=list)
    detail: str = ""

    @property
    def merged(self) -> bool:
        return self.status in ("merged", "already-merged", "unchanged")

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status,
            "merged": self.merged,
            "branch": self.branch,
            "integration": self.integration,
            "files": self.files,
            "conflicts": self.conflicts,
            "hunks": [hunk.to_json() for hunk in self.hunks],
            "detail": self.detail,
        }


class Isolation:
    """One session's isolation state in one repository (see the module docstring)."""

    def __init__(self, repo: Path, data_dir: Path, session_id: str) -> None:
        self.repo = repository_top(repo)
        self.git = Git(self.repo)
        self.data_dir = data_dir.resolve()
        self.session_id = session_id
        self.dir = session_dir(self.data_dir, session_id)
        self.state: SessionState = load_state(self.data_dir, session_id, self.repo)
        self._tip: tuple[str, str | None] | None = None  # (integration commit, its tree)

    # -- refs ------------------------------------------------------------------------------
    @property
    def integration_ref(self) -> str:
        return session_ref(self.session_id, "integration")

    def integration(self) -> str:
        """The integration tip: the snapshot plus every task merged so far.

        Only this session's owner moves it (always compare-and-swap), so it is read from git
        once and then followed in memory: a merge costs no extra git call for it.
        """
        if self._tip is None:
            tip = self.git.commit_id(self.integration_ref)
            if tip is None:
                raise IsolationError(f"session {self.session_id} has no snapshot yet")
            self._tip = (tip, None)
        return self._tip[0]

    def _tip_tree(self) -> str:
        tip, tree = self._tip or (self.integration(), None)
        if tree is None:
            tree = self.git.text("rev-parse", f"{tip}^{{tree}}")
            self._tip = (tip, tree)
        return tree

    @property
    def pool(self) -> WorktreePool:
        root = self.data_dir / "worktrees" / ref_component(self.session_id)
        return WorktreePool(self.git, root, self.state.free)

    def _save(self) -> None:
        save_state(self.data_dir, self.state)

    def _task(self, task_id: str) -> TaskRecord:
        try:
            return self.state.tasks[task_id]
        except KeyError:
            raise IsolationError(
                f"task '{task_id}' has no workspace in session {self.session_id}"
            ) from None

    # -- the steps -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Snapshot the user's tree (once per session: a restart finds the first one)."""
        ref = session_ref(self.session_id, "snapshot")
        if self.state.snapshot is not None and self.git.commit_id(ref) == self.state.snapshot:
            return Snapshot(self.state.snapshot, self.state.head, ref)
        snap = take_snapshot(self.git, self.dir, ref, f"br: snapshot for session {self.session_id}")
        self.git.update_ref(self.integration_ref, snap.commit, message="br: integration starts")
        self._tip = (snap.commit, None)
        self.state.snapshot, self.state.head, self.state.landed = snap.commit, snap.head, None
        self._save()
        return snap

    def workspace(self, task_id: str, base_commit: str | None = None) -> Path:
        """The task's own worktree on branch br/<session>/<task>, made from `base_commit`
        (default: the snapshot). Asked again, it is the same worktree with the task's work."""
        record = self.state.tasks.get(task_id)
        if record is not None and record.state != "discarded":
            path = self.pool.attach(ref_component(task_id), record.branch, record.base)
            if record.released or Path(record.worktree) != path:
                record.released, record.worktree = False, str(path)
                self._save()
            return path
        if self.state.snapshot is None:
            raise IsolationError(f"take the snapshot of session {self.session_id} first")
        base = self.git.commit_id(base_commit or self.state.snapshot)
        if base is None:
            raise IsolationError(f"no commit '{base_commit}' to start task '{task_id}' from")
        branch = task_branch(self.session_id, task_id)
        if record is not None:  # discarded earlier: start over from the new base
            if is_worktree(Path(record.worktree)):  # free the branch, so it can go
                Git(Path(record.worktree)).run("checkout", "--quiet", "--detach", check=False)
            self.git.run("branch", "-D", branch, check=False)
        try:
            path = self.pool.attach(ref_component(task_id), branch, base)
        finally:
            self._save()  # the pool may have changed even when git failed
        self.state.tasks[task_id] = TaskRecord(task_id, branch, str(path), base)
        self._save()
        return path

    def warm(self, count: int) -> None:
        """Make `count` worktrees ahead of the first tasks (they are then reused, not made)."""
        if self.state.snapshot is None:
            raise IsolationError(f"take the snapshot of session {self.session_id} first")
        try:
            self.pool.warm(count, self.state.snapshot)
        finally:
            self._save()

    def release(self, task_id: str) -> None:
        """Give the task's worktree back to the pool; what it did not commit is dropped.

        merge() and discard() release by themselves; call it for a task that failed.
        """
        self._release(self._task(task_id))
        self._save()

    def _release(self, record: TaskRecord) -> None:
        if not record.released:
            self.pool.release(Path(record.worktree))
            record.released = True

    def workdir(self, task_id: str, folder: Path) -> Path:
        """Where `folder` (a folder of the user's checkout) is in the task's worktree."""
        try:
            relative = folder.resolve().relative_to(self.repo)
        except ValueError:
            raise IsolationError(f"{folder} is outside the repository {self.repo}") from None
        return Path(self._task(task_id).worktree) / relative

    def commit_task(self, task_id: str, message: str | None = None) -> TaskChange | None:
        """Commit what the task changed onto its branch br/<session>/<task>; None if nothing."""
        record = self._task(task_id)
        if record.state in ("merged", "landed", "kept"):
            raise IsolationError(f"task '{task_id}' is already merged; it cannot change now")
        commit = commit_worktree(
            Path(record.worktree),
            record.branch,
            message or f"br: {task_id} (session {self.session_id})",
        )
        if commit is None and record.commit is None:
            record.state = "unchanged"
            self._save()
            return None
        record.commit = commit or record.commit
        assert record.commit is not None
        files = changed_files(self.git, record.base, record.commit)
        record.files, record.state, record.conflicts = [f.path for f in files], "committed", []
        self._save()
        return TaskChange(task_id, record.branch, record.base, record.commit, files)

    def merge(self, task_id: str) -> MergeResult:
        """Apply the task's committed change onto the integration tree (the caller's order)."""
        record = self._task(task_id)
        if record.state == "discarded":
            raise IsolationError(f"task '{task_id}' was discarded; there is nothing to merge")
        tip = self.integration()
        if record.commit is None:
            return MergeResult(task_id, "unchanged", record.branch, tip, detail="no change")
        if record.state in ("merged", "landed", "kept"):
            return MergeResult(task_id, "already-merged", record.branch, tip, record.files)
        new_tree: str | None = None
        if tip == record.base:  # nothing merged since its base: the tip moves to its commit
            new_tip, how = record.commit, "fast-forward"
        else:
            merged = merge_trees(self.git, self.integration_ref, f"refs/heads/{record.branch}")
            if merged.clean and merged.tree == self._tip_tree():
                # the tip holds it all: merged before a crash lost the journal, or the same
                # change was merged from another task
                record.state = "merged"
                self._release(record)
                self._save()
                return MergeResult(task_id, "already-merged", record.branch, tip, record.files)
            if not merged.clean:
                record.state, record.conflicts = "conflict", merged.conflicts
                self._release(record)  # the work is on its branch; workspace() brings it back
                self._save()
                return MergeResult(
                    task_id,
                    "conflict",
                    record.branch,
                    tip,
                    record.files,
                    merged.conflicts,
                    merged.hunks,
                    f"{len(merged.conflicts)} path(s) changed since the task's base; its work is "
                    f"kept on branch {record.branch}",
                )
            new_tip = self.git.commit_tree(
                merged.tree, [tip, record.commit], f"br: merge {task_id}"
            )
            new_tree, how = merged.tree, "merge"
        self.git.update_ref(self.integration_ref, new_tip, tip, message=f"br: merge {task_id}")
        self._tip = (new_tip, new_tree)
        record.state, record.merge_commit, record.conflicts = "merged", new_tip, []
        self._release(record)
        self._save()
        return MergeResult(task_id, "merged", record.branch, new_tip, record.files, detail=how)

    def merge_all(self, task_ids: list[str]) -> list[MergeResult]:
        """merge() each task in the order given (the plan's dependency order)."""
        return [self.merge(task_id) for task_id in task_ids]

    def discard(self, task_id: str) -> None:
        """Drop a task's work (a rejected review): its branch goes at cleanup."""
        record = self._task(task_id)
        if record.state in ("merged", "landed", "kept"):
            raise IsolationError(f"task '{task_id}' is already merged; it cannot be discarded")
        record.state = "discarded"
        self._release(record)
        self._save()

    # -- landing ---------------------------------------------------------------------------
    def land(self, on_write: Callable[[str], None] | None = None) -> LandResult:
        """Write the merged work into the user's tree, except files they changed meanwhile."""
        finished = self.resume(on_write)
        if self.state.snapshot is None:
            raise IsolationError(f"session {self.session_id} has no snapshot yet")
        before = self.state.landed or self.state.snapshot
        after = self.integration()
        if before == after:
            return finished or LandResult(None)
        return self._landed(land_changes(self.git, self.dir, before, after, on_write=on_write))

    def resume(self, on_write: Callable[[str], None] | None = None) -> LandResult | None:
        """Finish a landing that was interrupted (kill -9, power loss); None if there is none."""
        journal = read_journal(self.dir)
        if journal is None:
            return None
        return self._landed(
            land_changes(
                self.git, self.dir, journal["from"], journal["to"], on_write=on_write, resumed=True
            )
        )

    def rollback(self) -> LandResult | None:
        """Undo an interrupted landing instead of finishing it; None if there is none."""
        return rollback_changes(self.git, self.dir)

    def _landed(self, result: LandResult) -> LandResult:
        assert result.integration is not None
        self.state.landed = result.integration
        self.git.update_ref(session_ref(self.session_id, "landed"), result.integration)
        kept = {item["path"] for item in result.kept}
        for record in self.state.tasks.values():
            if record.state in ("merged", "kept"):
                record.kept = sorted(kept & set(record.files))
                record.state = "kept" if record.kept else "landed"
        self._save()
        return result

    def cleanup(self, *, force: bool = False, dry_run: bool = False) -> CleanupResult:
        """Remove this (finished) session's worktrees and refs; branches with unlanded work
        stay (and are listed) unless `force`."""
        result = cleanup_isolation(
            self.repo, self.data_dir, self.session_id, force=force, dry_run=dry_run
        )
        self.state = load_state(self.data_dir, self.session_id, self.repo)
        return result

    # -- reading ---------------------------------------------------------------------------
    def tasks(self) -> list[TaskRecord]:
        return list(self.state.tasks.values())

    def diff(self, task_id: str) -> str:
        """The task's change as a unified diff against its base ('' when it has none)."""
        record = self._task(task_id)
        if record.commit is None:
            return ""
        out = self.git.run("diff", "--no-color", "--no-ext-diff", record.base, record.commit)
        return out.stdout.decode("utf-8", "replace")

    def conflict_hunks(self, task_id: str) -> list[ConflictHunk]:
        """The hunks that keep a conflicting task from merging onto the integration tip now."""
        record = self._task(task_id)
        if record.state != "conflict":
            return []
        return merge_trees(self.git, self.integration_ref, f"refs/heads/{record.branch}").hunks
