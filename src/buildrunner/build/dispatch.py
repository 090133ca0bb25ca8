"""Starting tasks: the best ready ones on idle workers, after their file locks and their route.

A busy worker may also hold its next lock-free command task (queue-ahead): it starts the moment
the running one ends, without waiting for a round trip to this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from buildrunner.build.budget import BudgetDesk
from buildrunner.build.isolating import IsolationDesk
from buildrunner.build.outcomes import Outcomes
from buildrunner.build.state import RunState
from buildrunner.build.summary import TaskUpdate
from buildrunner.parallel.backends import Backend
from buildrunner.parallel.locks import acquire_locks
from buildrunner.parallel.protocol import TaskRun
from buildrunner.parallel.scheduler import TaskState
from buildrunner.routing_bridge import Router
from buildrunner.store.db import now


class Dispatcher:
    def __init__(
        self,
        run: RunState,
        outcomes: Outcomes,
        router: Router,
        budget: BudgetDesk,
        isolation: IsolationDesk,
        ready: Callable[[TaskState], bool] = lambda state: True,
    ) -> None:
        self.run = run
        self.isolation = isolation
        self.outcomes = outcomes
        self.router = router
        self.budget = budget
        self.ready = ready  # False: not yet (a cacheable task waits for its cache check)
        self.queue_ahead_on = run.settings.parallel.queue_ahead
        self._waiting_count = 0

    @property
    def backend(self) -> Backend:
        assert self.run.backend is not None
        return self.run.backend

    def dispatch(self) -> None:
        idle = self.backend.idle_workers()
        if idle:
            self.start_on(idle)
            if idle:  # nothing left for them: attempts queued on busy workers come back
                self.recall_queued()
        if self.queue_ahead_on:
            self.queue_ahead()

    def start_on(self, idle: list[str]) -> None:
        """Start the best runnable tasks on idle workers (popped from `idle` as they are used)."""
        run = self.run
        # waiting tasks are re-tried each round; look a little past the idle count for them
        candidates = run.scheduler.take_best(len(idle) + self._waiting_count + 8)
        for state in candidates:
            if not idle:
                break
            if not self.ready(state):
                continue
            task_id = state.spec.id
            result = acquire_locks(run.conn, run.lock_keys[task_id], run.session_id, task_id)
            if not result.acquired:
                holder = result.conflict
                assert holder is not None
                where = (
                    "this session"
                    if holder.session_id == run.session_id
                    else (f"session {holder.session_id}")
                )
                waiting_on = f"{holder.path} held by task '{holder.task_id}' of {where}"
                if state.status != "waiting" or state.waiting_on != waiting_on:
                    first_wait = state.status != "waiting"
                    run.scheduler.set_status(state, "waiting")
                    state.waiting_on = waiting_on
                    with run.write():
                        run.recorder.set_task(task_id, status="waiting", waiting_on=waiting_on)
                    if first_wait:  # one line per wait, not one per change of holder
                        run.wait_started[task_id] = time.monotonic()
                        run.notify(TaskUpdate(task_id, "waiting", detail=waiting_on))
                continue
            self.start(state, idle.pop(0))
        run.scheduler.give_back(candidates)
        self._waiting_count = sum(state.status == "waiting" for state in candidates)

    def queue_ahead(self) -> None:
        """Send each busy worker its next task now, so it starts without waiting for us.

        Only command tasks without declared files go ahead: they hold no locks and need no
        routing, so a queued attempt costs nothing if it has to be revoked (pause, cancel, or
        another worker falling idle while it waits behind a long task).
        """
        slots = self.backend.prefetch_slots()
        if not slots:
            return
        candidates = self.run.scheduler.take_best(len(slots))
        for state in candidates:
            if (
                state.spec.kind == "command"
                and not self.run.lock_keys[state.spec.id]
                and self.ready(state)
            ):
                self.start(state, slots.pop(0), ahead=True)
        self.run.scheduler.give_back(candidates)

    def recall_queued(self) -> None:
        """Ask workers for their queued attempts back (answered by "revoked" or "started")."""
        for task_id, state in self.run.queued_ahead.items():
            if task_id not in self.run.revoking and state.worker_id is not None:
                self.run.revoking.add(task_id)
                self.backend.revoke(state.worker_id)

    def start(self, state: TaskState, worker_id: str, *, ahead: bool = False) -> None:
        run = self.run
        task = state.spec
        agent: dict[str, Any] = {}
        if task.kind == "agent":
            decision = run.routes.pop(task.id, None) or self.router.route(task, run.session_id)
            if decision.error_type == "budget_exceeded" and decision.error is not None:
                # the money is spent: wait for a raised budget instead of failing the task
                details = next(
                    (e for e in decision.events if e.get("type") == "budget_exceeded"),
                    {"scope": "session", "hard": True},
                )
                fields = {k: v for k, v in details.items() if k not in ("type", "reason")}
                self.budget.pause(decision.error, task.id, fields)
                return
            for event in decision.events:
                run.emit(event.pop("type"), task_id=task.id, **event)
            for warning in decision.warnings:
                run.notify(TaskUpdate(task.id, "warning", detail=warning))
            if decision.level is not None:
                run.levels[task.id] = decision.level
            if decision.error is not None:
                self.outcomes.fail_unstarted(
                    state, decision.error_type or "routing", decision.error
                )
                return
            agent = decision.agent
        state.attempts += 1
        run.scheduler.set_status(state, "running")
        state.worker_id, state.waiting_on = worker_id, None
        folder = self.isolation.workdir(state)  # the user's tree, or the task's worktree
        workdir = (folder / task.cwd).resolve() if task.cwd else folder
        prompt = None if task.prompt is None else task.prompt + self.isolation.prompt_note(task.id)
        attempt = TaskRun(
            session_id=run.session_id,
            task_id=task.id,
            attempt=state.attempts,
            kind=task.kind,
            workdir=str(workdir),
            log_path=str(run.log_path(state)),
            run=task.run,
            prompt=prompt,
            env={
                **run.plan.env,
                **task.env,
                "BR_SESSION_ID": run.session_id,
                "BR_TASK_ID": task.id,
                "BR_ATTEMPT": str(state.attempts),
            },
            timeout_s=task.timeout_s or run.settings.run.default_timeout_s,
            files=list(task.files),
            cpus=task.cpus,
            resources=dict(task.resources),
            agent=agent,
            log_max_bytes=run.settings.run.log_max_bytes,
        )
        self.backend.dispatch(worker_id, attempt)  # first: the worker starts while we write
        if ahead:  # recorded as started when the worker says so
            run.queued_ahead[task.id] = state
            return
        self.record_start(state, worker_id)

    def record_start(self, state: TaskState, worker_id: str) -> None:
        run = self.run
        task = state.spec
        began = run.wait_started.pop(task.id, None)
        if began is not None:  # the closing summary says how long tasks waited for locks
            run.waited_s[task.id] = run.waited_s.get(task.id, 0.0) + time.monotonic() - began
        state.started_at = now()
        with run.write():
            run.recorder.set_task(
                task.id,
                status="running",
                attempts=state.attempts,
                worker_id=worker_id,
                started_at=state.started_at,
                ended_at=None,
                waiting_on=None,
                log_path=run.shown_log_path(run.log_path(state)),
            )
            run.recorder.start_attempt(task.id, state.attempts, worker_id, state.started_at)
            run.recorder.set_worker(worker_id, status="busy", current_task=task.id)
        run.emit(
            "task_started",
            task_id=task.id,
            kind=task.kind,
            attempt=state.attempts,
            worker_id=worker_id,
        )
        run.notify(TaskUpdate(task.id, "running", state.attempts))
