"""What the end of an attempt means for its task: success, retry, failure, skips, a lost worker."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from buildrunner.build.budget import BudgetDesk
from buildrunner.build.state import RunState
from buildrunner.build.summary import TaskUpdate
from buildrunner.parallel.backends import BackendMessage
from buildrunner.parallel.locks import release_locks
from buildrunner.parallel.protocol import TaskOutcome
from buildrunner.parallel.scheduler import TaskState
from buildrunner.store.db import now


def _verdict_note(outcome: TaskOutcome) -> str | None:
    """How an agent task's success reads in `br run`: verified or not, and by which model."""
    if outcome.verdict == "accepted":
        rounds = f" after {outcome.fix_rounds} fix round(s)" if outcome.fix_rounds else ""
        rung = f", rung {outcome.rung} of {len(outcome.ladder)}" if len(outcome.ladder) > 1 else ""
        return f"accepted: checks passed on {outcome.model}{rung}{rounds}"
    if outcome.verdict == "unverified":
        return f"unverified: no checks ({outcome.model})"
    return None


class Outcomes:
    def __init__(self, run: RunState, budget: BudgetDesk) -> None:
        self.run = run
        self.budget = budget
        # an isolated task's success waits for its merge (and review): True means deferred
        self.defer_success: Callable[[TaskState, TaskOutcome], bool] = lambda state, outcome: False
        self.on_failed: Callable[[str], None] = lambda task_id: None  # e.g. free its worktree

    def finish_attempt(self, worker_id: str, outcome: TaskOutcome) -> None:
        run = self.run
        state = run.scheduler.tasks.get(outcome.task_id)
        if state is None or state.attempts != outcome.attempt or state.status != "running":
            return  # a stale report (the attempt was already given up)
        ended = now()
        self.budget.release_task(state.spec.id)  # what its calls still held (a crash mid-call)
        run.recorder.end_attempt(outcome, ended)
        run.recorder.count_worker_result(worker_id, outcome.status == "succeeded")
        if run.lock_keys[state.spec.id]:
            release_locks(run.conn, run.session_id, state.spec.id)
        state.worker_id = None
        for finding in outcome.findings:
            run.emit(
                "security_violation",
                task_id=state.spec.id,
                path=finding["path"],
                line=finding["line"],
                rule_id=finding["rule_id"],
                kind=finding["kind"],
                severity=finding["severity"],
                match=finding["match"],
                blocked=outcome.error_type == "security_gate",
            )
        if outcome.model:
            run.recorder.set_task(state.spec.id, model=outcome.model)
        if outcome.verdict is not None:
            self._record_verdict(state, outcome)
        duration_ms = round(outcome.duration_s * 1000, 3)
        common = {"task_id": state.spec.id, "kind": state.spec.kind, "attempt": outcome.attempt}
        if outcome.status == "succeeded":
            if not self.defer_success(state, outcome):
                self.complete(state, outcome, ended)
            return
        if run.cancelling:
            # whatever the attempt died of, it was stopped because the session is cancelled
            run.scheduler.set_status(state, "cancelled")
            run.recorder.set_task(
                state.spec.id, status="cancelled", ended_at=ended, error="cancelled"
            )
            run.notify(TaskUpdate(state.spec.id, "cancelled", outcome.attempt))
            return
        if run.budget_pause is not None and outcome.error_type == "budget_exceeded":
            # stopped by the budget that paused the session: it goes on when the session does
            self.requeue(state, f"paused: {run.budget_pause}")
            return
        run.emit(
            "task_failed",
            duration_ms=duration_ms,
            exit_code=outcome.exit_code,
            error_type=outcome.error_type or "error",
            error=outcome.error or "failed",
            **common,
        )
        if outcome.attempt <= state.spec.retries:
            self.requeue(state, f"attempt {outcome.attempt} failed: {outcome.error}")
            return
        run.scheduler.set_status(state, "failed")
        run.recorder.set_task(
            state.spec.id,
            status="failed",
            exit_code=outcome.exit_code,
            ended_at=ended,
            duration_s=outcome.duration_s,
            error=outcome.error,
        )
        run.notify(
            TaskUpdate(
                state.spec.id,
                "failed",
                outcome.attempt,
                outcome.duration_s,
                outcome.error,
                str(run.log_path(state)),
            )
        )
        self.skip_dependents(state.spec.id)

    def complete(
        self, state: TaskState, outcome: TaskOutcome, ended: float, note: str = ""
    ) -> None:
        """The task succeeded: record it, tell, and queue what waited for it (in a write)."""
        run = self.run
        run.scheduler.set_status(state, "succeeded")
        run.recorder.set_task(
            state.spec.id,
            status="succeeded",
            exit_code=outcome.exit_code,
            ended_at=ended,
            duration_s=outcome.duration_s,
            error=None,
        )
        run.emit(
            "task_completed",
            task_id=state.spec.id,
            kind=state.spec.kind,
            attempt=outcome.attempt,
            duration_ms=round(outcome.duration_s * 1000, 3),
            exit_code=outcome.exit_code,
            verdict=outcome.verdict,
        )
        detail = "; ".join(part for part in (_verdict_note(outcome), note) if part) or None
        run.notify(
            TaskUpdate(
                state.spec.id,
                "succeeded",
                outcome.attempt,
                outcome.duration_s,
                detail=detail,
                log_path=str(run.log_path(state)),
            )
        )
        run.succeeded_runs.append((state.spec.id, outcome.attempt, outcome.duration_s))
        self.queue_newly_ready()

    def fail(self, state: TaskState, error_type: str, error: str, attempt: int = 0) -> None:
        """The task failed after its attempt ended (a merge conflict, a rejected review)."""
        run = self.run
        run.scheduler.set_status(state, "failed")
        run.recorder.set_task(state.spec.id, status="failed", ended_at=now(), error=error)
        run.emit(
            "task_failed",
            task_id=state.spec.id,
            kind=state.spec.kind,
            attempt=attempt or state.attempts,
            duration_ms=None,
            exit_code=None,
            error_type=error_type,
            error=error,
        )
        run.notify(TaskUpdate(state.spec.id, "failed", state.attempts, detail=error))
        self.skip_dependents(state.spec.id)

    def _record_verdict(self, state: TaskState, outcome: TaskOutcome) -> None:
        """An agent task's verdict: the task row, an accepted/rejected event, the rung history."""
        run = self.run
        run.recorder.set_task(
            state.spec.id,
            verdict=outcome.verdict,
            rung=outcome.rung or None,
            fix_rounds=outcome.fix_rounds,
        )
        if outcome.verdict in ("accepted", "rejected"):
            run.emit(
                f"task_{outcome.verdict}",
                task_id=state.spec.id,
                kind="agent",
                attempt=outcome.attempt,
                model=outcome.model,
                rung=outcome.rung,
                fix_rounds=outcome.fix_rounds,
                spent_usd=float(outcome.cost_usd),
                reason=outcome.error or "",
            )
        self.record_rungs(state, outcome)

    def record_rungs(self, state: TaskState, outcome: TaskOutcome) -> None:
        """What each rung tried, for routing by outcomes (only verified rungs teach anything)."""
        level = self.run.levels.get(state.spec.id)
        if outcome.verdict not in ("accepted", "rejected") or level is None:
            return
        from buildrunner.routing.history import record_rung

        for rung in outcome.rungs:
            record_rung(
                self.run.conn,
                session_id=self.run.session_id,
                task_id=state.spec.id,
                level=level,
                model=str(rung["model"]),
                rung=int(rung["rung"]) - 1,
                fix_rounds=int(rung["fix_rounds"]),
                accepted=bool(rung["accepted"]),
                first_try=bool(rung["first_try"]),
                cost_usd=Decimal(str(rung["cost_usd"])),
            )

    def queue_newly_ready(self) -> None:
        """Mark tasks whose dependencies all succeeded as queued (inside the open write)."""
        run = self.run
        for task_id in run.scheduler.newly_ready():
            ready = run.scheduler.tasks[task_id]
            run.scheduler.set_status(ready, "queued")
            run.recorder.set_task(task_id, status="queued")
            run.emit("task_queued", task_id=task_id, kind=ready.spec.kind)
            run.newly_queued.append(task_id)

    def fail_unstarted(self, state: TaskState, error_type: str, error: str) -> None:
        """A task that cannot start (no model fits, budget spent) fails without an attempt."""
        run = self.run
        with run.write():
            release_locks(run.conn, run.session_id, state.spec.id)
            run.scheduler.set_status(state, "failed")
            run.recorder.set_task(state.spec.id, status="failed", ended_at=now(), error=error)
            run.emit(
                "task_failed",
                task_id=state.spec.id,
                kind=state.spec.kind,
                attempt=state.attempts,
                duration_ms=0.0,
                exit_code=None,
                error_type=error_type,
                error=error,
            )
            run.notify(TaskUpdate(state.spec.id, "failed", detail=error))
            self.skip_dependents(state.spec.id)

    def requeue(self, state: TaskState, reason: str) -> None:
        run = self.run
        run.scheduler.set_status(state, "queued")
        state.worker_id = None
        run.recorder.set_task(state.spec.id, status="queued", worker_id=None)
        run.emit("task_retried", task_id=state.spec.id, attempt=state.attempts + 1, reason=reason)
        run.notify(TaskUpdate(state.spec.id, "retrying", state.attempts, detail=reason))

    def skip_dependents(self, failed_id: str) -> None:
        run = self.run
        self.on_failed(failed_id)
        for task_id in run.scheduler.to_skip(failed_id):
            skipped = run.scheduler.tasks[task_id]
            run.scheduler.set_status(skipped, "skipped")
            reason = f"dependency '{failed_id}' failed"
            run.recorder.set_task(task_id, status="skipped", error=reason)
            run.emit("task_skipped", task_id=task_id, reason=reason)
            run.notify(TaskUpdate(task_id, "skipped", detail=reason))

    def worker_lost(self, message: BackendMessage) -> None:
        run = self.run
        worker_id = message.worker_id
        for queued in [q for q in run.queued_ahead.values() if q.worker_id == worker_id]:
            run.unqueue(queued)  # it never started: back to the queue, no attempt lost
        run.recorder.set_worker(worker_id, status="offline", current_task=None)
        task_id = message.task[0] if message.task else None
        run.emit("worker_offline", worker_id=worker_id, task_id=task_id, reason=message.reason)
        if message.task is not None:
            state = run.scheduler.tasks.get(message.task[0])
            if (
                state is not None
                and state.status == "running"
                and state.attempts == message.task[1]
            ):
                self._lose(state, worker_id, message.reason)
        if not run.cancelling:
            assert run.backend is not None
            replacement = run.backend.replace_worker(worker_id)
            if replacement is not None:
                run.recorder.add_worker(replacement)

    def _lose(self, state: TaskState, worker_id: str, reason: str) -> None:
        run = self.run
        self.budget.release_task(state.spec.id)
        run.recorder.lose_attempt(state.spec.id, state.attempts, reason)
        release_locks(run.conn, run.session_id, state.spec.id)
        state.lost += 1
        # a lost worker is not the task's fault: one requeue always, more within retries
        if (state.lost == 1 or state.attempts <= state.spec.retries) and not run.cancelling:
            self.requeue(state, f"worker {worker_id} lost: {reason}")
            return
        run.scheduler.set_status(state, "failed")
        run.recorder.set_task(
            state.spec.id, status="failed", ended_at=now(), error=f"worker lost: {reason}"
        )
        run.emit(
            "task_failed",
            task_id=state.spec.id,
            kind=state.spec.kind,
            attempt=state.attempts,
            duration_ms=None,
            exit_code=None,
            error_type="worker_lost",
            error=reason,
        )
        run.notify(
            TaskUpdate(state.spec.id, "failed", state.attempts, detail=f"worker lost: {reason}")
        )
        self.skip_dependents(state.spec.id)
