"""In-memory DAG state of one session: which tasks are ready, what a failure skips."""

from __future__ import annotations

from dataclasses import dataclass

from buildrunner.parallel.plan import Plan, TaskSpec, dependents

DONE_OK = "succeeded"
FINAL = frozenset({"succeeded", "failed", "skipped", "cancelled"})
RUNNABLE = frozenset({"queued", "waiting"})


@dataclass
class TaskState:
    spec: TaskSpec
    position: int
    status: str = "pending"
    attempts: int = 0  # attempts started so far
    lost: int = 0  # attempts lost with their worker
    worker_id: str | None = None
    started_at: float | None = None
    waiting_on: str | None = None
    error: str | None = None

    @property
    def sort_key(self) -> tuple[int, int]:
        return (-self.spec.priority, self.position)


class Scheduler:
    """Tracks task states and answers: what can run next, what does a failure skip."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tasks = {task.id: TaskState(task, index) for index, task in enumerate(plan.tasks)}
        self._dependents = dependents(plan)

    def deps_satisfied(self, task_id: str) -> bool:
        return all(self.tasks[dep].status == DONE_OK for dep in self.tasks[task_id].spec.depends_on)

    def newly_ready(self) -> list[str]:
        """Pending tasks whose dependencies all succeeded (the caller marks them queued)."""
        return [
            task_id
            for task_id, state in self.tasks.items()
            if state.status == "pending" and self.deps_satisfied(task_id)
        ]

    def runnable(self) -> list[TaskState]:
        """Queued or lock-waiting tasks in priority order (then plan order)."""
        return sorted(
            (state for state in self.tasks.values() if state.status in RUNNABLE),
            key=lambda state: state.sort_key,
        )

    def to_skip(self, failed_id: str) -> list[str]:
        """Every not-yet-final task that depends (transitively) on `failed_id`."""
        result: list[str] = []
        stack = list(self._dependents[failed_id])
        seen: set[str] = set()
        while stack:
            task_id = stack.pop()
            if task_id in seen:
                continue
            seen.add(task_id)
            if self.tasks[task_id].status not in FINAL:
                result.append(task_id)
            stack.extend(self._dependents[task_id])
        return sorted(result, key=lambda task_id: self.tasks[task_id].position)

    def running(self) -> list[TaskState]:
        return [state for state in self.tasks.values() if state.status == "running"]

    def finished(self) -> bool:
        """No task can make progress any more."""
        if any(state.status in ("running", *RUNNABLE) for state in self.tasks.values()):
            return False
        return not self.newly_ready()

    def counts(self) -> dict[str, int]:
        counts = {"succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0, "pending": 0}
        for state in self.tasks.values():
            key = state.status if state.status in counts else "pending"
            counts[key] += 1
        return counts
