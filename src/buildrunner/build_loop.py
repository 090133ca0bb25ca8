"""The build loop of one session run: dispatch, worker messages, retries, skips, the end.

`Orchestrator` (orchestrator.py) creates, resumes and finishes sessions; `SessionRun` here is one
run of one session inside it: it owns the scheduler state, talks to the backend, and writes the
session's rows through the recorder. Events are queued and handed to the sink outside any open
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import Interrupted as Interrupted
from buildrunner.parallel.backends import Backend, BackendMessage
from buildrunner.parallel.locks import acquire_locks, lock_keys, release_locks
from buildrunner.parallel.plan import Plan
from buildrunner.parallel.protocol import TaskOutcome, TaskRun
from buildrunner.parallel.recorder import SessionRecorder
from buildrunner.parallel.scheduler import Scheduler, TaskState
from buildrunner.parallel.sessions import take_control_requests
from buildrunner.routing_bridge import Router
from buildrunner.store.db import now, transaction

if TYPE_CHECKING:
    from buildrunner.orchestrator import Orchestrator

CONTROL_POLL_S = 0.5


@dataclass
class TaskUpdate:
    """A change the CLI may show while the build runs."""

    task_id: str
    status: str
    attempt: int = 0
    duration_s: float | None = None
    detail: str | None = None
    log_path: str | None = None


@dataclass
class RunSummary:
    session_id: str
    name: str
    status: str
    counts: dict[str, int]
    duration_s: float
    tasks: list[dict[str, Any]] = field(default_factory=list)
    merge: dict[str, Any] | None = None  # worktree isolation: how the result was merged back

    def to_json(self) -> dict[str, Any]:
        return ({"merge": self.merge} if self.merge else {}) | {
            "session_id": self.session_id,
            "name": self.name,
            "status": self.status,
            "tasks": {key: self.counts.get(key, 0) for key in ("succeeded", "failed", "skipped")}
            | {"cancelled": self.counts.get("cancelled", 0), "total": sum(self.counts.values())},
            "duration_s": round(self.duration_s, 3),
            "results": self.tasks,
        }


class SessionRun:
    """State of one run of a session (split from Orchestrator to keep each part small)."""

    def __init__(
        self, owner: Orchestrator, session_id: str, name: str, plan: Plan, workers: int,
        backend_name: str, workdir: Path,
    ) -> None:
        self.owner = owner
        self.conn = owner.conn
        self.settings = owner.settings
        self.sink = owner.sink
        self.session_id = session_id
        self.name = name
        self.plan = plan
        self.workers = workers
        self.backend_name = backend_name
        self.recorder = SessionRecorder(self.conn, session_id)
        self.scheduler = Scheduler(plan)
        self.root = workdir
        self.log_dir = owner.store.logs_dir / session_id
        self._log_prefix = (
            str(workdir) + "/" if self.log_dir.is_relative_to(workdir) else ""
        )
        self.paused = False
        self.cancelling = False
        self.started = time.monotonic()
        self.beats: dict[str, float] = {}
        self.pending_events: list[dict[str, Any]] = []
        self._waiting_count = 0
        # attempts sent into a busy worker's queue, not started yet (see _queue_ahead)
        self.queued_ahead: dict[str, TaskState] = {}
        self.revoking: set[str] = set()  # of those, the ones asked back
        self.queue_ahead = self.settings.parallel.queue_ahead
        self.router = Router(owner.conn, owner.settings, plan, self.session_id, owner.store.root)
        self.lock_keys = {
            task.id: lock_keys(_relative_to_store(workdir, task.cwd, task.files, owner.store.root))
            for task in plan.tasks
        }

    def emit(self, event_type: str, **fields: Any) -> None:
        """Queue an event; it goes to the sink outside any open transaction (see _drain)."""
        self.pending_events.append({"type": event_type, "session_id": self.session_id, **fields})

    def _drain(self) -> None:
        events, self.pending_events = self.pending_events, []
        for event in events:
            self.sink.emit(event)

    # -- setup -----------------------------------------------------------------------------
    def _load_states(self) -> None:
        for row in self.conn.execute(
            "SELECT task_id, status, attempts FROM tasks WHERE session_id = ?", (self.session_id,)
        ):
            state = self.scheduler.tasks[row["task_id"]]
            self.scheduler.set_status(state, row["status"])
            state.attempts = row["attempts"]

    def execute(self) -> RunSummary:
        self._load_states()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.recorder.take_ownership()
        resumed = any(state.attempts for state in self.scheduler.tasks.values())
        self.emit(
            "session_started", name=self.name, total_tasks=len(self.plan.tasks),
            workers=self.workers, backend=self.backend_name, resumed=resumed,
        )
        self._live: Backend | None = None  # the backend to shut down, once started
        try:
            self.backend = self.owner.backend_factory(
                self.backend_name, self.settings, self.session_id
            )
            self._live = self.backend
            for info in self.backend.start(self.workers):
                self.recorder.add_worker(info)
            self._queue_ready()
            self._loop()
            status = self._final_status()
        except Interrupted as stop:
            self._interrupt(str(stop))
            status = "interrupted"
        except Exception as exc:
            # never leave the session 'running' with locks held: requeue, record, then re-raise
            self._shutdown()
            self._interrupt(f"orchestrator error: {exc}")
            self.recorder.set_session_status("failed", ended=True, error=str(exc)[:500])
            self.emit("session_failed", status="failed", error=str(exc)[:500])
            self._drain()
            raise
        finally:
            self._shutdown()
        return self._finish(status)

    def _shutdown(self) -> None:
        if self._live is not None:
            self._live.shutdown()
            self._live = None
            self.recorder.stop_workers()

    # -- main loop -------------------------------------------------------------------------
    def _loop(self) -> None:
        last_control = 0.0
        timeout_s = self.settings.parallel.heartbeat_timeout_s
        while True:
            self._drain()
            if self.owner._stop_signal:
                raise Interrupted(f"stopped by {self.owner._stop_signal}")
            if time.monotonic() - last_control >= CONTROL_POLL_S:
                last_control = time.monotonic()
                self._handle_controls()
            if not self.paused and not self.cancelling:
                self._dispatch()
            if self.scheduler.finished() or (self.cancelling and not self.scheduler.running()):
                return
            waiting = self.scheduler.has_waiting()
            poll_s = min(self.settings.parallel.lock_poll_s if waiting else CONTROL_POLL_S, 0.5)
            messages = self.backend.poll(poll_s)
            messages += self._silent_workers(timeout_s)
            if messages:  # an idle round writes nothing (beats come only with messages)
                with transaction(self.conn):
                    for message in messages:
                        self._handle(message)
                    # hand freed workers their next task now, before the commit, so a worker
                    # never waits for the bookkeeping of the task it just finished
                    if messages and not self.paused and not self.cancelling:
                        self._dispatch()
                    self.recorder.heartbeats(self.beats)
                    self.beats.clear()

    def _handle_controls(self) -> None:
        for action in take_control_requests(self.conn, self.session_id):
            if action == "pause" and not self.paused:
                self.paused = True
                self._recall_queued()
                self.recorder.set_session_status("paused")
                self.emit("session_paused")
            elif action == "resume" and self.paused:
                self.paused = False
                self.recorder.set_session_status("running")
                self.emit("session_resumed")
            elif action == "cancel" and not self.cancelling:
                self.cancelling = True
                self._recall_queued()
                for state in self.scheduler.running():
                    if state.worker_id and state.spec.id not in self.queued_ahead:
                        self.backend.cancel(state.worker_id)

    def _queue_ready(self) -> None:
        with transaction(self.conn):
            for task_id in self.scheduler.newly_ready():
                state = self.scheduler.tasks[task_id]
                self.scheduler.set_status(state, "queued")
                self.recorder.set_task(task_id, status="queued")
                self.emit("task_queued", task_id=task_id, kind=state.spec.kind)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction, or the one already open (starts batch into one commit)."""
        if self.conn.in_transaction:
            yield
        else:
            with transaction(self.conn):
                yield

    def _dispatch(self) -> None:
        idle = self.backend.idle_workers()
        if idle:
            self._start_on(idle)
            if idle:  # nothing left for them: attempts queued on busy workers come back
                self._recall_queued()
        if self.queue_ahead:
            self._queue_ahead()

    def _start_on(self, idle: list[str]) -> None:
        """Start the best runnable tasks on idle workers (popped from `idle` as they are used)."""
        # waiting tasks are re-tried each round; look a little past the idle count for them
        candidates = self.scheduler.take_best(len(idle) + self._waiting_count + 8)
        for state in candidates:
            if not idle:
                break
            task_id = state.spec.id
            result = acquire_locks(self.conn, self.lock_keys[task_id], self.session_id, task_id)
            if not result.acquired:
                holder = result.conflict
                assert holder is not None
                where = "this session" if holder.session_id == self.session_id else (
                    f"session {holder.session_id}"
                )
                waiting_on = f"{holder.path} held by task '{holder.task_id}' of {where}"
                if state.status != "waiting" or state.waiting_on != waiting_on:
                    self.scheduler.set_status(state, "waiting")
                    state.waiting_on = waiting_on
                    with self._write():
                        self.recorder.set_task(task_id, status="waiting", waiting_on=waiting_on)
                    self.owner.on_update(TaskUpdate(task_id, "waiting", detail=waiting_on))
                continue
            self._start(state, idle.pop(0))
        self.scheduler.give_back(candidates)
        self._waiting_count = sum(state.status == "waiting" for state in candidates)

    def _queue_ahead(self) -> None:
        """Send each busy worker its next task now, so it starts without waiting for us.

        Only command tasks without declared files go ahead: they hold no locks and need no
        routing, so a queued attempt costs nothing if it has to be revoked (pause, cancel, or
        another worker falling idle while it waits behind a long task).
        """
        slots = self.backend.prefetch_slots()
        if not slots:
            return
        candidates = self.scheduler.take_best(len(slots))
        for state in candidates:
            if state.spec.kind == "command" and not self.lock_keys[state.spec.id]:
                self._start(state, slots.pop(0), ahead=True)
        self.scheduler.give_back(candidates)

    def _recall_queued(self) -> None:
        """Ask workers for their queued attempts back (answered by "revoked" or "started")."""
        for task_id, state in self.queued_ahead.items():
            if task_id not in self.revoking and state.worker_id is not None:
                self.revoking.add(task_id)
                self.backend.revoke(state.worker_id)

    def _unqueue(self, state: TaskState) -> None:
        """A queued attempt that never started goes back to the ready queue, uncounted."""
        self._dequeue(state)
        state.attempts -= 1
        state.worker_id = None
        self.scheduler.set_status(state, "queued")

    def _dequeue(self, state: TaskState) -> None:
        """The queued attempt left the worker's queue (started, given back or lost)."""
        self.queued_ahead.pop(state.spec.id, None)
        self.revoking.discard(state.spec.id)

    def _start(self, state: TaskState, worker_id: str, *, ahead: bool = False) -> None:
        task = state.spec
        agent: dict[str, Any] = {}
        if task.kind == "agent":
            decision = self.router.route(task, self.session_id)
            for event in decision.events:
                self.emit(event.pop("type"), task_id=task.id, **event)
            if decision.error is not None:
                self._fail_unstarted(state, decision.error_type or "routing", decision.error)
                return
            agent = decision.agent
        state.attempts += 1
        self.scheduler.set_status(state, "running")
        state.worker_id, state.waiting_on = worker_id, None
        log_path = self.log_dir / f"{task.id}.{state.attempts}.log"
        workdir = (self.root / task.cwd).resolve() if task.cwd else self.root
        run = TaskRun(
            session_id=self.session_id, task_id=task.id, attempt=state.attempts, kind=task.kind,
            workdir=str(workdir), log_path=str(log_path), run=task.run, prompt=task.prompt,
            env={**self.plan.env, **task.env, "BR_SESSION_ID": self.session_id,
                 "BR_TASK_ID": task.id, "BR_ATTEMPT": str(state.attempts)},
            timeout_s=task.timeout_s or self.settings.run.default_timeout_s, files=list(task.files),
            cpus=task.cpus, resources=dict(task.resources), agent=agent,
            log_max_bytes=self.settings.run.log_max_bytes,
        )
        self.backend.dispatch(worker_id, run)  # first: the worker starts while we write
        if ahead:  # recorded as started when the worker says so
            self.queued_ahead[task.id] = state
            return
        self._record_start(state, worker_id)

    def _record_start(self, state: TaskState, worker_id: str) -> None:
        task = state.spec
        state.started_at = now()
        log_path = self.log_dir / f"{task.id}.{state.attempts}.log"
        with self._write():
            self.recorder.set_task(
                task.id, status="running", attempts=state.attempts, worker_id=worker_id,
                started_at=state.started_at, ended_at=None, waiting_on=None,
                log_path=self._shown_log_path(log_path),
            )
            self.recorder.start_attempt(task.id, state.attempts, worker_id, state.started_at)
            self.recorder.set_worker(worker_id, status="busy", current_task=task.id)
        self.emit("task_started", task_id=task.id, kind=task.kind, attempt=state.attempts,
                  worker_id=worker_id)
        self.owner.on_update(TaskUpdate(task.id, "running", state.attempts))

    # -- messages --------------------------------------------------------------------------
    def _handle(self, message: BackendMessage) -> None:
        if message.kind in ("heartbeat", "started", "revoked", "worker_ready"):
            self.beats[message.worker_id] = now()
        if message.kind in ("started", "revoked") and message.task is not None:
            state = self.queued_ahead.get(message.task[0])
            if state is None or state.attempts != message.task[1]:
                return
            if message.kind == "revoked":
                self._unqueue(state)
                return
            self._dequeue(state)
            self._record_start(state, message.worker_id)
            if self.cancelling:  # it started as the cancel went out
                self.backend.cancel(message.worker_id)
        elif message.kind == "event" and message.task is not None:
            event = dict(message.event.get("event", {}))
            event_type = event.pop("type", "task_event")
            if event_type == "model_call_completed":
                self.router.record_call(self.session_id, message.task[0], event)
            self.emit(event_type, task_id=message.task[0], **event)
        elif message.kind == "done" and message.outcome is not None:
            self._finish_attempt(message.worker_id, message.outcome)
        elif message.kind == "lost":
            self._worker_lost(message)

    def _silent_workers(self, timeout_s: float) -> list[BackendMessage]:
        """Kill workers that stopped heartbeating; their 'lost' messages, to handle as any other."""
        cutoff = time.time() - timeout_s
        lost = []
        for info in list(self.backend.workers()):
            if info.last_heartbeat and info.last_heartbeat < cutoff:
                message = self.backend.kill_worker(info.worker_id, f"no heartbeat for {timeout_s:g}s")
                if message is not None:
                    lost.append(message)
        return lost

    def _finish_attempt(self, worker_id: str, outcome: TaskOutcome) -> None:
        state = self.scheduler.tasks.get(outcome.task_id)
        if state is None or state.attempts != outcome.attempt or state.status != "running":
            return  # a stale report (the attempt was already given up)
        ended = now()
        self.recorder.end_attempt(outcome, ended)
        self.recorder.count_worker_result(worker_id, outcome.status == "succeeded")
        if self.lock_keys[state.spec.id]:
            release_locks(self.conn, self.session_id, state.spec.id)
        state.worker_id = None
        for finding in outcome.findings:
            self.emit("security_violation", task_id=state.spec.id, path=finding["path"],
                      line=finding["line"], rule_id=finding["rule_id"], kind=finding["kind"],
                      severity=finding["severity"], match=finding["match"],
                      blocked=outcome.error_type == "security_gate")
        if outcome.model:
            self.recorder.set_task(state.spec.id, model=outcome.model)
        duration_ms = round(outcome.duration_s * 1000, 3)
        common = {"task_id": state.spec.id, "kind": state.spec.kind, "attempt": outcome.attempt}
        if outcome.status == "succeeded":
            self.scheduler.set_status(state, "succeeded")
            self.recorder.set_task(
                state.spec.id, status="succeeded", exit_code=outcome.exit_code, ended_at=ended,
                duration_s=outcome.duration_s, error=None,
            )
            self.emit("task_completed", duration_ms=duration_ms, exit_code=outcome.exit_code,
                      **common)
            self.owner.on_update(TaskUpdate(state.spec.id, "succeeded", outcome.attempt,
                                            outcome.duration_s, log_path=self._log(state)))
            for task_id in self.scheduler.newly_ready():
                ready = self.scheduler.tasks[task_id]
                self.scheduler.set_status(ready, "queued")
                self.recorder.set_task(task_id, status="queued")
                self.emit("task_queued", task_id=task_id, kind=ready.spec.kind)
            return
        if self.cancelling and outcome.status != "succeeded":
            # whatever the attempt died of, it was stopped because the session is cancelled
            self.scheduler.set_status(state, "cancelled")
            self.recorder.set_task(state.spec.id, status="cancelled", ended_at=ended,
                                   error="cancelled")
            self.owner.on_update(TaskUpdate(state.spec.id, "cancelled", outcome.attempt))
            return
        self.emit("task_failed", duration_ms=duration_ms, exit_code=outcome.exit_code,
                  error_type=outcome.error_type or "error", error=outcome.error or "failed",
                  **common)
        if outcome.attempt <= state.spec.retries and not self.cancelling:
            self._requeue(state, f"attempt {outcome.attempt} failed: {outcome.error}")
            return
        self.scheduler.set_status(state, "failed")
        self.recorder.set_task(
            state.spec.id, status="failed", exit_code=outcome.exit_code, ended_at=ended,
            duration_s=outcome.duration_s, error=outcome.error,
        )
        self.owner.on_update(TaskUpdate(state.spec.id, "failed", outcome.attempt,
                                        outcome.duration_s, outcome.error, self._log(state)))
        self._skip_dependents(state.spec.id)

    def _fail_unstarted(self, state: TaskState, error_type: str, error: str) -> None:
        """A task that cannot start (no model fits, budget spent) fails without an attempt."""
        with self._write():
            release_locks(self.conn, self.session_id, state.spec.id)
            self.scheduler.set_status(state, "failed")
            self.recorder.set_task(state.spec.id, status="failed", ended_at=now(), error=error)
            self.emit("task_failed", task_id=state.spec.id, kind=state.spec.kind,
                      attempt=state.attempts, duration_ms=0.0, exit_code=None,
                      error_type=error_type, error=error)
            self.owner.on_update(TaskUpdate(state.spec.id, "failed", detail=error))
            self._skip_dependents(state.spec.id)

    def _requeue(self, state: TaskState, reason: str) -> None:
        self.scheduler.set_status(state, "queued")
        state.worker_id = None
        self.recorder.set_task(state.spec.id, status="queued", worker_id=None)
        self.emit("task_retried", task_id=state.spec.id, attempt=state.attempts + 1, reason=reason)
        self.owner.on_update(TaskUpdate(state.spec.id, "retrying", state.attempts, detail=reason))

    def _skip_dependents(self, failed_id: str) -> None:
        for task_id in self.scheduler.to_skip(failed_id):
            skipped = self.scheduler.tasks[task_id]
            self.scheduler.set_status(skipped, "skipped")
            reason = f"dependency '{failed_id}' failed"
            self.recorder.set_task(task_id, status="skipped", error=reason)
            self.emit("task_skipped", task_id=task_id, reason=reason)
            self.owner.on_update(TaskUpdate(task_id, "skipped", detail=reason))

    def _worker_lost(self, message: BackendMessage) -> None:
        worker_id = message.worker_id
        for queued in [q for q in self.queued_ahead.values() if q.worker_id == worker_id]:
            self._unqueue(queued)  # it never started: back to the queue, no attempt lost
        self.recorder.set_worker(worker_id, status="offline", current_task=None)
        task_id = message.task[0] if message.task else None
        self.emit("worker_offline", worker_id=worker_id, task_id=task_id, reason=message.reason)
        if message.task is not None:
            state = self.scheduler.tasks.get(message.task[0])
            if state is not None and state.status == "running" and state.attempts == message.task[1]:
                self.recorder.lose_attempt(state.spec.id, state.attempts, message.reason)
                release_locks(self.conn, self.session_id, state.spec.id)
                state.lost += 1
                # a lost worker is not the task's fault: one requeue always, more within retries
                if (state.lost == 1 or state.attempts <= state.spec.retries) and not self.cancelling:
                    self._requeue(state, f"worker {worker_id} lost: {message.reason}")
                else:
                    self.scheduler.set_status(state, "failed")
                    self.recorder.set_task(state.spec.id, status="failed", ended_at=now(),
                                           error=f"worker lost: {message.reason}")
                    self.emit("task_failed", task_id=state.spec.id, kind=state.spec.kind,
                              attempt=state.attempts, duration_ms=None, exit_code=None,
                              error_type="worker_lost", error=message.reason)
                    self._skip_dependents(state.spec.id)
        if not self.cancelling:
            replacement = self.backend.replace_worker(worker_id)
            if replacement is not None:
                self.recorder.add_worker(replacement)

    def _shown_log_path(self, log_path: Path) -> str:
        """The log path as stored: relative to the session's directory when inside it."""
        if self._log_prefix and str(log_path).startswith(self._log_prefix):
            return str(log_path)[len(self._log_prefix):]
        return str(log_path)

    def _log(self, state: TaskState) -> str:
        return str(self.log_dir / f"{state.spec.id}.{state.attempts}.log")

    # -- the end ---------------------------------------------------------------------------
    def _final_status(self) -> str:
        with transaction(self.conn):
            for state in self.scheduler.tasks.values():
                if state.status in ("pending", "queued", "waiting"):
                    self.scheduler.set_status(state, "cancelled" if self.cancelling else "skipped")
                    reason = "session cancelled" if self.cancelling else "dependencies did not complete"
                    self.recorder.set_task(state.spec.id, status=state.status, error=reason)
                    if not self.cancelling:
                        self.emit("task_skipped", task_id=state.spec.id, reason=reason)
        counts = self.scheduler.counts()
        if self.cancelling:
            return "cancelled"
        return "completed" if counts["succeeded"] == len(self.plan.tasks) else "failed"

    def _interrupt(self, reason: str) -> None:
        """Leave the store consistent: running work goes back to the queue for --resume."""
        with transaction(self.conn):
            for state in self.scheduler.tasks.values():
                if state.status in ("running", "waiting"):
                    if state.status == "running":
                        self.recorder.lose_attempt(state.spec.id, state.attempts, reason)
                    self.scheduler.set_status(state, "queued")
                    self.recorder.set_task(state.spec.id, status="queued", worker_id=None)
        release_locks(self.conn, self.session_id)

    def _finish(self, status: str) -> RunSummary:
        duration = time.monotonic() - self.started
        counts = self.scheduler.counts()
        self.recorder.set_session_status(status, ended=True)
        fields = {
            "status": status, "succeeded": counts["succeeded"], "failed": counts["failed"],
            "skipped": counts["skipped"], "duration_s": round(duration, 3),
        }
        if status == "completed":
            self.emit("session_completed", **fields)
        else:
            self.emit("session_failed", error=f"session {status}", **fields)
        self._drain()
        self.sink.flush()
        return RunSummary(self.session_id, self.name, status, counts, duration, self._results())

    def _results(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT task_id, kind, status, attempts, exit_code, duration_s, log_path, error"
            " FROM tasks WHERE session_id = ? ORDER BY position",
            (self.session_id,),
        ).fetchall()
        return [dict(row) for row in rows]


def _relative_to_store(workdir: Path, cwd: str | None, files: list[str], root: Path) -> list[str]:
    """Declared paths made relative to the store's project root (shared by all sessions)."""
    base = (workdir / cwd).resolve() if cwd else workdir
    result = []
    for path in files:
        absolute = base / path
        try:
            result.append(absolute.relative_to(root).as_posix() + ("/" if path.endswith("/") else ""))
        except ValueError:
            result.append(absolute.as_posix())
    return result

