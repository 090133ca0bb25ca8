"""The one place that wires the subsystems for a build.

For each task: route (agent tasks) → acquire file locks → execute on a backend worker → record
outcome, cost and events → release locks. The orchestrator process owns its session: it alone writes
the session's rows; workers report over the backend and never touch the store.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from buildrunner.build.budget import BudgetLedger
from buildrunner.build.loop import SessionRun
from buildrunner.build.state import RunContext
from buildrunner.build.summary import Interrupted, RunSummary, TaskUpdate
from buildrunner.config import Settings
from buildrunner.errors import SessionError
from buildrunner.parallel.backends import Backend
from buildrunner.parallel.locks import release_locks
from buildrunner.parallel.plan import Plan
from buildrunner.parallel.recorder import SessionRecorder
from buildrunner.parallel.sessions import create_session, get_session, new_session_id
from buildrunner.parallel.worktree import Worktree, merge_back, remove_worktree
from buildrunner.store.db import Store, transaction
from buildrunner.telemetry_sink import EventSink, open_sink

__all__ = ["Interrupted", "Orchestrator", "RunSummary", "TaskUpdate", "make_backend"]


def make_backend(name: str, settings: Settings, session_id: str) -> Backend:
    """The backend named `name` ('local' or 'ray')."""
    if name == "ray":
        from buildrunner.parallel.backends.ray import RayBackend

        return RayBackend(
            address=settings.run.ray_address,
            session_id=session_id,
            shared_filesystem=settings.run.ray_shared_filesystem,
            heartbeat_interval_s=settings.parallel.heartbeat_interval_s,
        )
    from buildrunner.parallel.backends.local import LocalBackend

    return LocalBackend(
        heartbeat_interval_s=settings.parallel.heartbeat_interval_s, session_id=session_id
    )


class Orchestrator:
    """Runs one session to the end (or until interrupted, paused and cancelled)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        on_update: Callable[[TaskUpdate], None] | None = None,
        backend_factory: Callable[[str, Settings, str], Backend] = make_backend,
        sink: EventSink | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_update = on_update or (lambda update: None)
        self.backend_factory = backend_factory
        self.conn: sqlite3.Connection = store.connect(busy_timeout_s=settings.store.busy_timeout_s)
        self.sink = sink or open_sink(store, settings)
        self._stop_signal: str | None = None

    # -- entry points ----------------------------------------------------------------------
    def create(
        self,
        plan: Plan,
        *,
        plan_path: str | None = None,
        name: str | None = None,
        workers: int = 1,
        backend: str = "local",
        budget_usd: float | None = None,
        workdir: Path | None = None,
        isolate: str = "none",
        review: bool = False,
    ) -> str:
        """Record a new session for `plan`; returns its id. Tasks run in `workdir` (default cwd).

        `isolate="task"` runs each task in its own git worktree and merges accepted work back in
        dependency order; `"session"` (or `"worktree"`) runs them all in one worktree. Either way
        the work lands in `workdir` at the end. `review` holds every isolated task's work for
        `br review approve` (tasks with `approve: true` always wait).
        """
        workdir = (workdir or Path.cwd()).resolve()
        session_id = new_session_id()
        mode = "session" if isolate == "worktree" else isolate
        if mode == "none" and (
            review or any(task.approve or task.isolate == "task" for task in plan.tasks)
        ):
            mode = "task"  # work held for review needs a branch to wait on
        metadata: dict[str, Any] = {"isolate": mode, "review": review} if mode != "none" else {}
        return create_session(
            self.conn,
            plan,
            name=name,
            plan_path=plan_path,
            workers=workers,
            backend=backend,
            budget_usd=budget_usd,
            workdir=str(workdir),
            session_id=session_id,
            metadata=metadata,
        )

    def prepare_resume(self, session_ref: str, *, budget_usd: float | None = None) -> str:
        """Take over a session whose owner died, that failed, or that a budget paused, so run()
        can continue it (with `budget_usd` as its new budget when given).

        The check and the takeover are one write transaction, so two resumes started at once
        cannot both take the session.
        """
        session_id = get_session(self.conn, session_ref).id
        with transaction(self.conn):
            row = get_session(self.conn, session_id)
            if row.status in ("pending", "running", "paused") and row.owner_alive:
                raise SessionError(
                    f"session {row.id} is still running (pid {row.owner_pid} on {row.owner_host})"
                )
            if row.status == "completed":
                raise SessionError(f"session {row.id} already completed; nothing to resume")
            if row.status == "cancelled":
                raise SessionError(f"session {row.id} was cancelled; start a new run instead")
            recorder = SessionRecorder(self.conn, row.id)
            recorder.take_ownership()  # joins this transaction: a second resumer now sees us
            recorder.lose_running_attempts("orchestrator stopped; attempt requeued on resume")
            release_locks(self.conn, row.id)
            BudgetLedger(self.conn, row.id).release_session()  # a crash leaves none behind
            if budget_usd is not None:
                self.conn.execute(
                    "UPDATE sessions SET budget_usd = ? WHERE id = ?", (str(budget_usd), row.id)
                )
            # unfinished work runs again; failed and skipped tasks get another chance
            self.conn.execute(
                "UPDATE tasks SET status = 'pending', worker_id = NULL, waiting_on = NULL"
                " WHERE session_id = ? AND status NOT IN ('succeeded')",
                (row.id,),
            )
        return session_id

    def close(self) -> None:
        self.sink.close()
        self.conn.close()

    # -- the build -------------------------------------------------------------------------
    def run(self, session_id: str, *, use_cache: bool = True, explain: bool = False) -> RunSummary:
        """Run the session's remaining tasks; returns when no task can make progress.

        `use_cache=False` runs every task even when an identical earlier run was cached;
        `explain` reports why each cacheable task missed the cache.
        """
        row = get_session(self.conn, session_id)
        plan = Plan.from_json(
            self.conn.execute("SELECT plan_json FROM sessions WHERE id = ?", (row.id,)).fetchone()[
                0
            ]
        )
        workdir = Path(row.workdir) if row.workdir else self.store.root
        if not workdir.is_dir():
            raise SessionError(f"working directory {workdir} of session {row.id} no longer exists")
        context = RunContext(
            store=self.store,
            conn=self.conn,
            settings=self.settings,
            sink=self.sink,
            backend_factory=self.backend_factory,
            stop_reason=lambda: self._stop_signal,
            on_update=self.on_update,
            use_cache=use_cache,
            explain=explain,
        )
        run = SessionRun(
            context,
            row.id,
            row.name,
            plan,
            row.workers,
            row.backend,
            workdir,
            isolate=str(row.metadata.get("isolate", "none")),
            review=bool(row.metadata.get("review", False)),
        )
        previous = _install_signal_handlers(self._on_signal)
        try:
            summary = run.execute()
        finally:
            _restore_signal_handlers(previous)
        if "worktree" in row.metadata and summary.status == "completed":  # a session of br < 0.2
            summary = self._merge_worktree(row.metadata["worktree"], summary)
        return summary

    def _merge_worktree(self, data: dict[str, Any], summary: RunSummary) -> RunSummary:
        tree = Worktree(
            Path(data["repo"]), Path(data["path"]), data["branch"], data["base"], data["subdir"]
        )
        result = merge_back(tree, f"BuildRunner session {summary.session_id} ({summary.name})")
        summary.merge = {"merged": result.merged, "how": result.how, "detail": result.detail}
        recorder = SessionRecorder(self.conn, summary.session_id)
        if result.merged:
            remove_worktree(tree)
        else:
            summary.status = "failed"
            recorder.set_session_status("failed", ended=True, error=result.detail)
        return summary

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signal.Signals(signum).name


def _install_signal_handlers(handler: Callable[[int, FrameType | None], None]) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
