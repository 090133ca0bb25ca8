"""Runs an agent task attempt inside a worker (routing decisions come with the TaskRun)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from buildrunner.parallel.protocol import TaskOutcome, TaskRun


def execute_agent_task(task: TaskRun, emit: Callable[[dict[str, Any]], None]) -> TaskOutcome:
    """Agent tasks are not runnable until the model-call executor is wired in."""
    return TaskOutcome(
        task_id=task.task_id,
        attempt=task.attempt,
        status="failed",
        error_type="not_runnable",
        error="agent tasks are not runnable yet in this version",
    )
