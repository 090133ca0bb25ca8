"""The state one session run shares between its parts (loop, dispatch, outcomes).

`RunContext` is what a run needs from its owner (the orchestrator), passed in so nothing in
`build/` imports the orchestrator: the store, settings, event sink, how to make a backend, and
two callables, `stop_reason()` (a signal arrived) and `on_update(...)` (show progress).

Events and progress updates are queued while the run writes and handed out by `drain()`, which
the loop calls outside any transaction: a terminal or pipe that stops reading must never hold
the database's write lock (other sessions of the project would time out waiting for it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildrunner.build.summary import TaskUpdate
from buildrunner.config import Settings
from buildrunner.parallel.backends import Backend
from buildrunner.parallel.locks import lock_keys
from buildrunner.parallel.plan import Plan
from buildrunner.parallel.recorder import SessionRecorder
from buildrunner.parallel.scheduler import Scheduler, TaskState
from buildrunner.store.db import Store, transaction
from buildrunner.telemetry_sink import EventSink


@dataclass
class RunContext:
    """What one session run needs from its owner, and nothing more."""

    store: Store
    conn: sqlite3.Connection
    settings: Settings
    sink: EventSink
    backend_factory: Callable[[str, Settings, str], Backend]
    stop_reason: Callable[[], str | None]  # e.g. "SIGINT" once a signal arrived
    on_update: Callable[[TaskUpdate], None]
    use_cache: bool = True  # `br run --no-cache` turns the task cache off for one run
    explain: bool = False  # `br run --explain`: say why each cacheable task missed


class RunState:
    """Everything the parts of one run read and change."""

    def __init__(
        self,
        context: RunContext,
        session_id: str,
        name: str,
        plan: Plan,
        workers: int,
        backend_name: str,
        workdir: Path,
    ) -> None:
        self.context = context
        self.conn = context.conn
        self.settings = context.settings
        self.session_id = session_id
        self.name = name
        self.plan = plan
        self.workers = workers
        self.backend_name = backend_name
        self.root = workdir
        self.recorder = SessionRecorder(self.conn, session_id)
        self.scheduler = Scheduler(plan)
        self.log_dir = context.store.logs_dir / session_id
        self._log_prefix = str(workdir) + "/" if self.log_dir.is_relative_to(workdir) else ""
        self.backend: Backend | None = None
        self.paused = False
        self.cancelling = False
        self.budget_pause: str | None = None  # why a hard budget paused the session
        self.levels: dict[str, str] = {}  # agent task -> its estimated complexity level
        self.routes: dict[str, Any] = {}  # agent task -> its route, decided when it was keyed
        self.cache_digests: dict[
            str, str
        ] = {}  # task -> its cache key (its dependents' keys hold it)
        self.newly_queued: list[str] = []  # tasks whose dependencies just succeeded (cache checks)
        self.succeeded_runs: list[tuple[str, int, float]] = []  # (task, attempt, s): cache stores
        self.wait_started: dict[str, float] = {}  # task -> when it began to wait for a file lock
        self.waited_s: dict[str, float] = {}  # task -> seconds it waited for locks in all
        self.beats: dict[str, float] = {}
        self.pending_events: list[dict[str, Any]] = []
        self.pending_updates: list[TaskUpdate] = []
        # attempts sent into a busy worker's queue, not started yet (see Dispatcher.queue_ahead)
        self.queued_ahead: dict[str, TaskState] = {}
        self.revoking: set[str] = set()  # of those, the ones asked back
        self.lock_keys = {
            task.id: lock_keys(relative_to_store(workdir, task.cwd, task.files, context.store.root))
            for task in plan.tasks
        }

    # -- what the run says, handed out outside transactions ---------------------------------
    def emit(self, event_type: str, **fields: Any) -> None:
        """Queue an event for the sink (see `drain`)."""
        self.pending_events.append({"type": event_type, "session_id": self.session_id, **fields})

    def notify(self, update: TaskUpdate) -> None:
        """Queue a progress update for the CLI (see `drain`)."""
        self.pending_updates.append(update)

    def drain(self) -> None:
        """Hand queued events to the sink and updates to the CLI; never inside a transaction."""
        assert not self.conn.in_transaction, "drain() inside a write transaction"
        events, self.pending_events = self.pending_events, []
        for event in events:
            self.context.sink.emit(event)
        updates, self.pending_updates = self.pending_updates, []
        for update in updates:
            self.context.on_update(update)

    @contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction, or the one already open (starts batch into one commit)."""
        if self.conn.in_transaction:
            yield
        else:
            with transaction(self.conn):
                yield

    # -- queued-ahead attempts ------------------------------------------------------------------
    def dequeue(self, state: TaskState) -> None:
        """The queued attempt left the worker's queue (started, given back or lost)."""
        self.queued_ahead.pop(state.spec.id, None)
        self.revoking.discard(state.spec.id)

    def unqueue(self, state: TaskState) -> None:
        """A queued attempt that never started goes back to the ready queue, uncounted."""
        self.dequeue(state)
        state.attempts -= 1
        state.worker_id = None
        self.scheduler.set_status(state, "queued")

    # -- logs -------------------------------------------------------------------------------------
    def log_path(self, state: TaskState) -> Path:
        return self.log_dir / f"{state.spec.id}.{state.attempts}.log"

    def shown_log_path(self, log_path: Path) -> str:
        """The log path as stored: relative to the session's directory when inside it."""
        if self._log_prefix and str(log_path).startswith(self._log_prefix):
            return str(log_path)[len(self._log_prefix) :]
        return str(log_path)


def relative_to_store(workdir: Path, cwd: str | None, files: list[str], root: Path) -> list[str]:
    """Declared paths made relative to the store's project root (shared by all sessions)."""
    base = (workdir / cwd).resolve() if cwd else workdir
    result = []
    for path in files:
        absolute = base / path
        try:
            result.append(
                absolute.relative_to(root).as_posix() + ("/" if path.endswith("/") else "")
            )
        except ValueError:
            result.append(absolute.as_posix())
    return result
