"""The build loop's side of the task cache (build/cache.py): restore, or run and store.

When a task is ready (its dependencies succeeded), its cache key is computed; if an earlier run
with the same key succeeded, its outputs are restored while the task's file locks are held, its
log is replayed, and the task is `cached`: nothing runs, nothing is paid. Otherwise it runs, and
when it succeeds (a command) or is accepted or unverified (an agent task) its result is stored
under that key. Failed, rejected and cancelled runs are never stored.

Every cache call writes the store in transactions of its own, so this desk works between the
loop's rounds, outside any open transaction: `check_ready()` keys and restores the tasks that
became ready, `flush()` stores what succeeded. The dispatcher leaves a cacheable task alone until
it has been checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from buildrunner.build.cache import CacheOutcome, TaskCache
from buildrunner.build.cache_key import CacheKey, is_cacheable
from buildrunner.build.outcomes import Outcomes
from buildrunner.build.state import RunState
from buildrunner.build.summary import TaskUpdate
from buildrunner.parallel.locks import acquire_locks, release_locks
from buildrunner.parallel.scheduler import TaskState
from buildrunner.routing.costs import from_micro
from buildrunner.routing_bridge import Router


@dataclass(frozen=True)
class Success:
    """A run to store once the round that recorded it has committed."""

    task_id: str
    attempt: int
    duration_s: float


class CacheDesk:
    def __init__(
        self,
        run: RunState,
        outcomes: Outcomes,
        router: Router,
        cache: TaskCache | None,
        *,
        explain: bool = False,
    ) -> None:
        self.run = run
        self.outcomes = outcomes
        self.router = router
        self.cache = cache
        self.explain = explain
        self.checked: set[str] = set()
        self.to_check: list[str] | None = None  # None: not started (every queued task is due)
        self.keys: dict[str, CacheKey] = {}

    def needs_check(self, state: TaskState) -> bool:
        """A cacheable task not looked up yet: the dispatcher waits for `check_ready`."""
        return (
            self.cache is not None
            and state.spec.id not in self.checked
            and is_cacheable(state.spec)
        )

    def check_ready(self) -> None:
        """Key every ready, cacheable task not seen yet; restore the hits (outside transactions)."""
        if self.cache is None:
            return
        run = self.run
        if self.to_check is None:  # the first round: whatever is queued (a resumed session too)
            self.to_check = [
                task_id
                for task_id, state in run.scheduler.tasks.items()
                if state.status == "queued"
            ]
        busy: list[str] = []
        # a hit queues its dependents: they are checked in this same call, so a chain of
        # unchanged tasks is restored at once rather than one round each
        while self.to_check or run.newly_queued:
            due = self.to_check + run.newly_queued
            self.to_check, run.newly_queued = [], []
            for task_id in due:
                state = run.scheduler.tasks[task_id]
                if state.status != "queued" or not self.needs_check(state):
                    self.checked.add(task_id)
                elif not self._check(state):
                    busy.append(task_id)  # its files are busy: again next round
        self.to_check = busy

    def _check(self, state: TaskState) -> bool:
        """Key one task and restore it on a hit; False when its file locks are busy."""
        run, task = self.run, state.spec
        assert self.cache is not None
        route: list[str] = []
        if task.kind == "agent":
            decision = self.router.route(task, run.session_id)
            if decision.error is not None:  # dispatch routes it again and reports why
                self.checked.add(task.id)
                return True
            run.routes[task.id] = decision  # used at dispatch: the task is routed once
            route = [rung["model"] for rung in decision.agent.get("rungs", [])]
        keys = run.lock_keys[task.id]
        if keys and not acquire_locks(run.conn, keys, run.session_id, task.id).acquired:
            return False
        self.checked.add(task.id)
        log_path = run.log_dir / f"{task.id}.cached.log"
        try:
            answer = self.cache.restore_if_cached(
                task,
                plan=run.plan,
                workdir=run.root,
                dependency_keys=run.cache_digests,
                route=route,
                log_path=log_path,
            )
        finally:
            if keys:
                release_locks(run.conn, run.session_id, task.id)
        if answer.key is not None:
            run.cache_digests[task.id] = answer.key.digest
            self.keys[task.id] = answer.key
        if answer.hit:
            run.routes.pop(task.id, None)
            with run.write():
                self._cached(state, answer, log_path)
        elif self.explain and answer.reason:
            run.notify(TaskUpdate(task.id, "miss", detail=answer.reason))
        return True

    def _cached(self, state: TaskState, answer: CacheOutcome, log_path: Path) -> None:
        run, task = self.run, state.spec
        entry = answer.entry
        assert entry is not None and answer.key is not None
        run.scheduler.set_status(state, "succeeded")
        run.recorder.set_task(
            task.id,
            status="succeeded",
            cached=1,
            cache_key=answer.key.digest,
            verdict="cached",
            duration_s=0.0,
            error=None,
            log_path=run.shown_log_path(log_path),
        )
        saved = {"saved_usd": float(entry.cost_usd), "saved_s": round(entry.duration_s, 3)}
        run.emit(
            "task_cached", task_id=task.id, kind=task.kind, cache_key=answer.key.digest, **saved
        )
        run.emit(
            "task_completed",
            task_id=task.id,
            kind=task.kind,
            attempt=0,
            duration_ms=0.0,
            exit_code=0,
            verdict="cached",
        )
        run.notify(
            TaskUpdate(
                task.id,
                "cached",
                detail=(
                    f"cached: nothing ran (saved ${entry.cost_usd:.6f}, {entry.duration_s:.2f}s)"
                ),
            )
        )
        self.outcomes.queue_newly_ready()

    def flush(self) -> None:
        """Store the good runs the outcomes noted since the last flush (outside transactions)."""
        runs, self.run.succeeded_runs = self.run.succeeded_runs, []
        if self.cache is None:
            return
        for task_id, attempt, duration_s in runs:
            success = Success(task_id, attempt, duration_s)
            key = self.keys.pop(success.task_id, None)
            if key is None:
                continue
            row = self.run.conn.execute(
                "SELECT cost_micro_usd FROM tasks WHERE session_id = ? AND task_id = ?",
                (self.run.session_id, success.task_id),
            ).fetchone()
            cost: Decimal = from_micro(row[0] if row else 0)
            log = self.run.log_dir / f"{success.task_id}.{success.attempt}.log"
            self.cache.store(
                key,
                workdir=self.run.root,
                log_path=log,
                cost_usd=cost,
                duration_s=success.duration_s,
                session_id=self.run.session_id,
            )
