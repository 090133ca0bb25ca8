"""The build loop of one session run: the conductor of dispatch, worker messages and the end.

`Orchestrator` (orchestrator.py) creates, resumes and finishes sessions; `SessionRun` here is one
run of one session: it owns the scheduler state, talks to the backend, and writes the session's
rows through the recorder. Events and progress updates are queued while it writes and handed out
between rounds, outside any transaction (see build/state.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from buildrunner.build.budget import BudgetDesk
from buildrunner.build.cache import TaskCache, open_task_cache
from buildrunner.build.caching import CacheDesk
from buildrunner.build.dispatch import Dispatcher
from buildrunner.build.isolating import IsolationDesk
from buildrunner.build.outcomes import Outcomes
from buildrunner.build.state import RunContext, RunState
from buildrunner.build.summary import Interrupted, RunSummary, closing_facts
from buildrunner.parallel.backends import BackendMessage
from buildrunner.parallel.locks import release_locks
from buildrunner.parallel.plan import Plan
from buildrunner.parallel.sessions import take_control_requests
from buildrunner.routing_bridge import Router
from buildrunner.store.db import now, transaction

CONTROL_POLL_S = 0.5


class SessionRun:
    """One run of one session, from its first dispatch to its summary."""

    def __init__(
        self,
        context: RunContext,
        session_id: str,
        name: str,
        plan: Plan,
        workers: int,
        backend_name: str,
        workdir: Path,
        *,
        isolate: str = "none",
        review: bool = False,
    ) -> None:
        self.context = context
        self.state = RunState(context, session_id, name, plan, workers, backend_name, workdir)
        self.budget = BudgetDesk(self.state)
        self.outcomes = Outcomes(self.state, self.budget)
        router = Router(context.conn, context.settings, plan, session_id, context.store.root)
        self.isolation = IsolationDesk(self.state, self.outcomes, isolate, review=review)
        # restores write the user's tree: an isolated session's tasks run in worktrees instead
        cache = _open_cache(context) if isolate == "none" else None
        self.caching = CacheDesk(self.state, self.outcomes, router, cache, explain=context.explain)
        self.dispatcher = Dispatcher(
            self.state,
            self.outcomes,
            router,
            self.budget,
            self.isolation,
            ready=lambda state: not self.caching.needs_check(state),
        )
        self.started = time.monotonic()
        self.started_at = now()

    # -- setup -----------------------------------------------------------------------------
    def _load_states(self) -> None:
        run = self.state
        for row in run.conn.execute(
            "SELECT task_id, status, attempts FROM tasks WHERE session_id = ?", (run.session_id,)
        ):
            state = run.scheduler.tasks[row["task_id"]]
            run.scheduler.set_status(state, row["status"])
            state.attempts = row["attempts"]

    def execute(self) -> RunSummary:
        run = self.state
        self._load_states()
        run.log_dir.mkdir(parents=True, exist_ok=True)
        run.recorder.take_ownership()
        self.isolation.start()
        resumed = any(state.attempts for state in run.scheduler.tasks.values())
        run.emit(
            "session_started",
            name=run.name,
            total_tasks=len(run.plan.tasks),
            workers=run.workers,
            backend=run.backend_name,
            resumed=resumed,
        )
        try:
            run.backend = self.context.backend_factory(
                run.backend_name, run.settings, run.session_id
            )
            for info in run.backend.start(run.workers):
                run.recorder.add_worker(info)
            self._queue_ready()
            self._loop()
            status = self._final_status()
        except Interrupted as stop:
            self._shutdown()
            self._interrupt(str(stop))
            status = "interrupted"
        except Exception as exc:
            # never leave the session 'running' with locks held: requeue, record, then re-raise
            self._shutdown()
            self._interrupt(f"orchestrator error: {exc}")
            run.recorder.set_session_status("failed", ended=True, error=str(exc)[:500])
            run.emit("session_failed", status="failed", error=str(exc)[:500])
            run.drain()
            raise
        finally:
            self._shutdown()
        return self._finish(status)

    def _shutdown(self) -> None:
        run = self.state
        if run.backend is not None:
            run.backend.shutdown()
            run.backend = None
            run.recorder.stop_workers()

    # -- main loop -------------------------------------------------------------------------
    def _loop(self) -> None:
        run = self.state
        assert run.backend is not None
        backend = run.backend
        last_control = 0.0
        timeout_s = run.settings.parallel.heartbeat_timeout_s
        while True:
            run.drain()
            self.caching.flush()  # cache work writes in transactions of its own: between rounds
            self.isolation.settle()  # commits, reviews and merges of isolated tasks: git work
            if not run.paused and not run.cancelling:
                self.caching.check_ready()
                run.drain()
            stop = self.context.stop_reason()
            if stop:
                raise Interrupted(f"stopped by {stop}")
            if time.monotonic() - last_control >= CONTROL_POLL_S:
                last_control = time.monotonic()
                self._handle_controls()
            if not run.paused and not run.cancelling:
                self.dispatcher.dispatch()
            if run.scheduler.finished() or (run.cancelling and not run.scheduler.running()):
                return
            if run.budget_pause and not run.scheduler.running():
                return  # paused by a budget with nothing left running: the run ends 'paused'

            waiting = run.scheduler.has_waiting()
            poll_s = min(run.settings.parallel.lock_poll_s if waiting else CONTROL_POLL_S, 0.5)
            messages = backend.poll(poll_s)
            messages += self._silent_workers(timeout_s)
            if messages:  # an idle round writes nothing (beats come only with messages)
                with transaction(run.conn):
                    for message in messages:
                        self._handle(message)
                    # hand freed workers their next task now, before the commit, so a worker
                    # never waits for the bookkeeping of the task it just finished
                    if not run.paused and not run.cancelling:
                        self.dispatcher.dispatch()
                    run.recorder.heartbeats(run.beats)
                    run.beats.clear()

    def _handle_controls(self) -> None:
        run = self.state
        assert run.backend is not None
        for action in take_control_requests(run.conn, run.session_id):
            if action == "pause" and not run.paused:
                run.paused = True
                self.dispatcher.recall_queued()
                run.recorder.set_session_status("paused")
                run.emit("session_paused")
            elif action == "resume" and run.paused:
                run.paused = False
                run.budget_pause = None  # the next reservation checks the (raised) budget again
                run.recorder.set_session_status("running")
                run.emit("session_resumed")
            elif action == "cancel" and not run.cancelling:
                run.cancelling = True
                self.dispatcher.recall_queued()
                for state in run.scheduler.running():
                    if state.worker_id and state.spec.id not in run.queued_ahead:
                        run.backend.cancel(state.worker_id)

    def _queue_ready(self) -> None:
        with transaction(self.state.conn):
            self.outcomes.queue_newly_ready()

    # -- messages --------------------------------------------------------------------------
    def _handle(self, message: BackendMessage) -> None:
        run = self.state
        if message.kind in ("heartbeat", "started", "revoked", "worker_ready"):
            run.beats[message.worker_id] = now()
        if message.kind in ("started", "revoked") and message.task is not None:
            state = run.queued_ahead.get(message.task[0])
            if state is None or state.attempts != message.task[1]:
                return
            if message.kind == "revoked":
                run.unqueue(state)
                return
            run.dequeue(state)
            self.dispatcher.record_start(state, message.worker_id)
            if run.cancelling:  # it started as the cancel went out
                assert run.backend is not None
                run.backend.cancel(message.worker_id)
        elif message.kind == "event" and message.task is not None:
            event = dict(message.event.get("event", {}))
            event_type = event.pop("type", "task_event")
            if event_type == "model_call_completed":
                self.dispatcher.router.record_call(run.session_id, message.task[0], event)
                self.budget.on_cost(event)
            run.emit(event_type, task_id=message.task[0], **event)
        elif message.kind == "reserve":
            self.budget.on_reserve(message)
        elif message.kind == "release":
            self.budget.on_release(message)
        elif message.kind == "done" and message.outcome is not None:
            self.outcomes.finish_attempt(message.worker_id, message.outcome)
        elif message.kind == "lost":
            self.outcomes.worker_lost(message)

    def _silent_workers(self, timeout_s: float) -> list[BackendMessage]:
        """Kill workers that stopped heartbeating; their 'lost' messages, to handle as any other."""
        assert self.state.backend is not None
        backend = self.state.backend
        cutoff = time.time() - timeout_s
        lost = []
        for info in list(backend.workers()):
            if info.last_heartbeat and info.last_heartbeat < cutoff:
                message = backend.kill_worker(info.worker_id, f"no heartbeat for {timeout_s:g}s")
                if message is not None:
                    lost.append(message)
        return lost

    # -- the end ---------------------------------------------------------------------------
    def _final_status(self) -> str:
        run = self.state
        if run.budget_pause and not run.cancelling:
            return "paused"  # unfinished tasks stay queued for the resume
        with transaction(run.conn):
            for state in run.scheduler.tasks.values():
                if state.status in ("pending", "queued", "waiting"):
                    run.scheduler.set_status(state, "cancelled" if run.cancelling else "skipped")
                    reason = (
                        "session cancelled" if run.cancelling else "dependencies did not complete"
                    )
                    run.recorder.set_task(state.spec.id, status=state.status, error=reason)
                    if not run.cancelling:
                        run.emit("task_skipped", task_id=state.spec.id, reason=reason)
        counts = run.scheduler.counts()
        if run.cancelling:
            return "cancelled"
        return "completed" if counts["succeeded"] == len(run.plan.tasks) else "failed"

    def _interrupt(self, reason: str) -> None:
        """Leave the store consistent: running work goes back to the queue for --resume."""
        run = self.state
        with transaction(run.conn):
            for state in run.scheduler.tasks.values():
                if state.status in ("running", "waiting"):
                    if state.status == "running":
                        run.recorder.lose_attempt(state.spec.id, state.attempts, reason)
                    run.scheduler.set_status(state, "queued")
                    run.recorder.set_task(state.spec.id, status="queued", worker_id=None)
        release_locks(run.conn, run.session_id)
        self.budget.release_session()

    def _finish(self, status: str) -> RunSummary:
        run = self.state
        duration = time.monotonic() - self.started
        counts = run.scheduler.counts()
        self.budget.release_session()
        self.caching.flush()
        fields = {
            "status": status,
            "succeeded": counts["succeeded"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
            "duration_s": round(duration, 3),
        }
        if status == "paused":  # a budget stopped it: it is not over (session_paused was sent)
            run.recorder.set_session_status("paused", error=f"paused: {run.budget_pause}")
        else:
            run.recorder.set_session_status(status, ended=True)
        if status == "completed":
            run.emit("session_completed", **fields)
        elif status != "paused":
            run.emit("session_failed", error=f"session {status}", **fields)
        run.drain()
        self.context.sink.flush()
        summary = RunSummary(run.session_id, run.name, status, counts, duration, self._results())
        if status in ("completed", "failed"):
            summary.merge = self.isolation.land()
        summary.extra.update(closing_facts(run.conn, run.session_id, self.started_at))
        summary.extra["lock_waits"] = {
            "tasks": len(run.waited_s),
            "seconds": round(sum(run.waited_s.values()), 3),
        }
        if run.budget_pause:
            summary.extra["paused_reason"] = run.budget_pause
        return summary

    def _results(self) -> list[dict[str, Any]]:
        rows = self.state.conn.execute(
            "SELECT task_id, kind, status, attempts, exit_code, duration_s, log_path, error,"
            " verdict, rung, fix_rounds, cached, cost_micro_usd FROM tasks"
            " WHERE session_id = ? ORDER BY position",
            (self.state.session_id,),
        ).fetchall()
        results = []
        for row in rows:
            item = dict(row)
            item["cached"] = bool(item["cached"])
            item["cost_usd"] = f"{item.pop('cost_micro_usd') / 1_000_000:.6f}"
            results.append(item)
        return results


def _open_cache(context: RunContext) -> TaskCache | None:
    """The project's task cache, unless the run or the settings turn it off."""
    settings = context.settings.cache
    if not context.use_cache or not settings.enabled:
        return None
    return open_task_cache(context.conn, context.store.root, settings)
