"""In-memory DAG state of one session: which tasks are ready, what a failure skips.

Every status change goes through `set_status`, which keeps small indexes up to date (a heap of
runnable tasks in priority order, the running set, counts of unmet dependencies), so scheduling
costs O(log n) per task instead of a scan of the whole plan.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

from buildrunner.parallel.plan import Plan, TaskSpec, dependents

# Every status a task of a session can have (the `tasks.status` column holds the same words).
TaskStatus = Literal[
    "pending", "queued", "waiting", "running", "succeeded", "failed", "skipped", "cancelled"
]
DONE_OK = "succeeded"
FINAL = frozenset({"succeeded", "failed", "skipped", "cancelled"})
RUNNABLE = frozenset({"queued", "waiting"})


@dataclass
class TaskState:
    spec: TaskSpec
    position: int
    status: TaskStatus = "pending"
    attempts: int = 0  # attempts started so far
    lost: int = 0  # attempts lost with their worker
    worker_id: str | None = None
    started_at: float | None = None
    waiting_on: str | None = None

    @property
    def sort_key(self) -> tuple[int, int]:
        return (-self.spec.priority, self.position)


class Scheduler:
    """Tracks task states and answers: what can run next, what does a failure skip."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tasks = {task.id: TaskState(task, index) for index, task in enumerate(plan.tasks)}
        self._dependents = dependents(plan)
        self._unmet = {task.id: len(set(task.depends_on)) for task in plan.tasks}
        self._ready_pending = {task_id for task_id, count in self._unmet.items() if count == 0}
        self._heap: list[tuple[int, int, str]] = []
        self._runnable: set[str] = set()
        self._running: set[str] = set()
        self._waiting: set[str] = set()

    def set_status(self, state: TaskState, status: TaskStatus) -> None:
        """Change a task's status and keep the indexes in step."""
        task_id, old = state.spec.id, state.status
        if old == status:
            return
        state.status = status
        if old == "pending":
            self._ready_pending.discard(task_id)
        if old in RUNNABLE and status not in RUNNABLE:
            self._runnable.discard(task_id)
        if old == "running":
            self._running.discard(task_id)
        if old == "waiting":
            self._waiting.discard(task_id)
        if status == "waiting":
            self._waiting.add(task_id)
        if status in RUNNABLE and task_id not in self._runnable:
            self._runnable.add(task_id)
            heapq.heappush(self._heap, (*state.sort_key, task_id))
        if status == "running":
            self._running.add(task_id)
        if status == "pending" and self._unmet[task_id] == 0:
            self._ready_pending.add(task_id)
        if (old == DONE_OK) != (status == DONE_OK):
            step = -1 if status == DONE_OK else 1
            for child in set(self._dependents[task_id]):
                self._unmet[child] += step
                if self._unmet[child] == 0 and self.tasks[child].status == "pending":
                    self._ready_pending.add(child)
                elif self._unmet[child] > 0:
                    self._ready_pending.discard(child)

    def newly_ready(self) -> list[str]:
        """Pending tasks whose dependencies all succeeded (the caller marks them queued)."""
        return sorted(self._ready_pending, key=lambda task_id: self.tasks[task_id].position)

    def take_best(self, limit: int) -> list[TaskState]:
        """Up to `limit` runnable tasks, best first, in O(limit log n); see `give_back`."""
        taken: list[TaskState] = []
        seen: set[str] = set()
        while self._heap and len(taken) < limit:
            *_, task_id = heapq.heappop(self._heap)
            if task_id in self._runnable and task_id not in seen:
                seen.add(task_id)
                taken.append(self.tasks[task_id])
        return taken

    def give_back(self, states: list[TaskState]) -> None:
        """Return tasks from `take_best` that did not start (e.g. waiting on a lock)."""
        for state in states:
            if state.spec.id in self._runnable:
                heapq.heappush(self._heap, (*state.sort_key, state.spec.id))

    def to_skip(self, failed_id: str) -> list[str]:
        """Every not-yet-final task that depends (transitively) on `failed_id`.

        The walk stops at tasks already final: a dependent that failed, was skipped or was
        cancelled had its own dependents made final with it, so over a whole build each task
        is walked O(1) times however many of its ancestors fail.
        """
        result: list[str] = []
        stack = list(self._dependents[failed_id])
        seen: set[str] = set()
        while stack:
            task_id = stack.pop()
            if task_id in seen:
                continue
            seen.add(task_id)
            if self.tasks[task_id].status in FINAL:
                continue
            result.append(task_id)
            stack.extend(self._dependents[task_id])
        return sorted(result, key=lambda task_id: self.tasks[task_id].position)

    def running(self) -> list[TaskState]:
        return [self.tasks[task_id] for task_id in self._running]

    def has_waiting(self) -> bool:
        return bool(self._waiting)

    def finished(self) -> bool:
        """No task can make progress any more."""
        return not self._running and not self._runnable and not self._ready_pending

    def counts(self) -> dict[str, int]:
        counts = {"succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0, "pending": 0}
        for state in self.tasks.values():
            key = state.status if state.status in counts else "pending"
            counts[key] += 1
        return counts
