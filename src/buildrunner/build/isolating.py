"""The build loop's side of isolation (build/isolation.py): where a task runs, where its work goes.

`isolate: task` gives every task its own git worktree, made from a snapshot of the user's tree as
it is (untracked files included) plus the work of the tasks merged so far, so a task sees what
the user sees and what its dependencies did. When it succeeds, its change is committed on its
branch and merged onto the session's integration tree (after `br review approve` when it asks for
review); a dependent starts only then. A change that conflicts with work merged since the task
started fails the task (`conflict`) and keeps its branch. `isolate: session` runs every task in one
worktree. At the end the merged work lands in the user's tree, never over a file the user changed
during the build (those are reported). Git work runs between rounds, outside any transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildrunner.build.isolation import SESSION_WORKSPACE, Isolation
from buildrunner.build.outcomes import Outcomes
from buildrunner.build.state import RunState
from buildrunner.build.summary import TaskUpdate
from buildrunner.parallel.protocol import TaskOutcome
from buildrunner.parallel.scheduler import TaskState
from buildrunner.store.db import now

MODES = ("none", "task", "session")


@dataclass
class Finished:
    """A task whose run succeeded, waiting for its commit, review and merge."""

    state: TaskState
    outcome: TaskOutcome
    ended: float
    review_asked: bool = False


class IsolationDesk:
    def __init__(self, run: RunState, outcomes: Outcomes, mode: str, *, review: bool) -> None:
        self.run = run
        self.outcomes = outcomes
        self.mode = mode
        self.review_all = review
        self.iso: Isolation | None = None
        self.finished: list[Finished] = []
        self.feedback: dict[str, str] = {}  # task -> a reviewer's reason, for its next attempt
        outcomes.defer_success = self._defer
        outcomes.on_failed = self.failed

    @property
    def active(self) -> bool:
        return self.iso is not None

    def start(self) -> None:
        """Snapshot the user's tree (a resumed session keeps its first snapshot)."""
        if self.mode == "none":
            return
        self.iso = Isolation(self.run.root, self.run.context.store.data_dir, self.run.session_id)
        self.iso.resume()  # a landing cut by a kill is finished first
        self.iso.snapshot()

    def workdir(self, state: TaskState) -> Path:
        """The folder the task runs in: its worktree's copy of the session's folder."""
        if self.iso is None or self._own_tree(state):
            return self.run.root
        name = state.spec.id if self.mode == "task" else SESSION_WORKSPACE
        base = self.iso.integration() if self.mode == "task" else None
        self.iso.workspace(name, base)
        return self.iso.workdir(name, self.run.root)

    def prompt_note(self, task_id: str) -> str:
        """What a reviewer said when they sent the task back (added to its next prompt)."""
        reason = self.feedback.pop(task_id, None)
        return (
            (
                f"\n\nA reviewer sent your previous change back: {reason}\nYour earlier work is "
                "still in the files; change it as asked."
            )
            if reason
            else ""
        )

    def _own_tree(self, state: TaskState) -> bool:
        return state.spec.isolate == "none"

    def _defer(self, state: TaskState, outcome: TaskOutcome) -> bool:
        """A task isolated on its own: its success waits for its merge (inside the round)."""
        if self.iso is None or self.mode != "task" or self._own_tree(state):
            return False
        self.finished.append(Finished(state, outcome, now()))
        return True

    def needs_review(self, state: TaskState) -> bool:
        return self.review_all or state.spec.approve

    # -- between rounds ---------------------------------------------------------------------
    def settle(self) -> None:
        """Commit, review and merge the tasks that finished (outside transactions)."""
        if self.iso is None or not self.finished:
            return
        waiting: list[Finished] = []
        for item in self.finished:
            if not self._settle(item):
                waiting.append(item)
        self.finished = waiting

    def _settle(self, item: Finished) -> bool:
        """False while the task waits for a review decision."""
        from buildrunner.build.review import get_review, request_review

        assert self.iso is not None
        run, task_id = self.run, item.state.spec.id
        change = self.iso.commit_task(task_id, f"br: {task_id} (session {run.session_id})")
        if change is not None and self.needs_review(item.state):
            if not item.review_asked:
                request_review(run.conn, run.session_id, task_id)
                item.review_asked = True
                run.notify(
                    TaskUpdate(
                        task_id,
                        "review",
                        detail=(
                            f"waiting for review: br review {task_id}; br review approve {task_id}"
                        ),
                    )
                )
                return False
            review = get_review(run.conn, run.session_id, task_id)
            if review is None or review.waiting:
                return False
            if review.status == "rejected":
                self.iso.discard(task_id)
                with run.write():
                    self.outcomes.fail(
                        item.state,
                        "review_rejected",
                        f"rejected in review: {review.reason or 'no reason given'}",
                    )
                return True
            if review.status == "retry":
                self.feedback[task_id] = review.reason or "the reviewer asked for another try"
                with run.write():
                    self.outcomes.requeue(item.state, f"sent back in review: {review.reason}")
                return True
        result = self.iso.merge(task_id)
        with run.write():
            if result.status == "conflict":
                run.emit(
                    "task_conflict",
                    task_id=task_id,
                    kind=item.state.spec.kind,
                    paths=result.conflicts,
                    branch=result.branch,
                    detail=result.detail,
                )
                run.recorder.set_task(task_id, verdict="conflict")
                self.outcomes.fail(
                    item.state,
                    "conflict",
                    f"merge conflict: {result.detail}: " + ", ".join(result.conflicts[:5]),
                )
                return True
            if result.status == "merged":
                run.emit(
                    "task_merged",
                    task_id=task_id,
                    kind=item.state.spec.kind,
                    files=result.files,
                    how=result.detail,
                )
            note = f"merged ({len(result.files)} file(s))" if result.status == "merged" else ""
            self.outcomes.complete(item.state, item.outcome, item.ended, note)
        return True

    def failed(self, task_id: str) -> None:
        """A failed task gives its worktree back (its uncommitted work is dropped)."""
        if self.iso is not None and self.mode == "task":
            try:
                self.iso.release(task_id)
            except Exception:  # never had a worktree
                return

    # -- the end --------------------------------------------------------------------------------
    def land(self) -> dict[str, Any] | None:
        """Land the merged work in the user's tree; what was written and what was kept."""
        if self.iso is None:
            return None
        if self.mode == "session":
            change = self.iso.commit_task(SESSION_WORKSPACE, f"br: session {self.run.session_id}")
            if change is not None:
                merged = self.iso.merge(SESSION_WORKSPACE)
                if merged.status == "conflict":
                    return {
                        "merged": False,
                        "how": "conflict",
                        "detail": merged.detail,
                        "written": [],
                        "kept": [],
                    }
        landed = self.iso.land()
        cleanup = self.iso.cleanup()
        kept = [f"{item['path']} ({item['reason']})" for item in landed.kept]
        detail = f"{len(landed.written)} file(s) written to your tree"
        if kept:
            detail += f"; kept your version of {len(kept)}: {', '.join(kept[:5])}"
        if cleanup.kept:
            detail += "; kept branches: " + ", ".join(item.branch for item in cleanup.kept[:5])
        return {
            "merged": True,
            "how": "landed",
            "detail": detail,
            "written": landed.written,
            "kept": landed.kept,
        }
