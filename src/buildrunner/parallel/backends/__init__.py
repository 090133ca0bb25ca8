"""Backends run task attempts somewhere: `local` (a pool of worker processes) or `ray`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from buildrunner.parallel.protocol import TaskOutcome, TaskRun


@dataclass
class WorkerInfo:
    worker_id: str
    pid: int | None
    host: str
    busy_with: tuple[str, int] | None = None  # (task_id, attempt)
    last_heartbeat: float = 0.0
    task_pid: int | None = None


MessageKind = Literal[
    "heartbeat", "started", "revoked", "event", "done", "lost", "worker_ready", "reserve", "release"
]


@dataclass
class BackendMessage:
    """Something that happened in the backend, for the orchestrator to record."""

    kind: MessageKind
    worker_id: str
    outcome: TaskOutcome | None = None
    event: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    task: tuple[str, int] | None = None  # the attempt started, revoked, or a lost worker's


class Backend(Protocol):
    """What the orchestrator needs from a place that runs tasks."""

    name: str

    def start(self, workers: int) -> list[WorkerInfo]: ...

    def idle_workers(self) -> list[str]: ...

    def dispatch(self, worker_id: str, task: TaskRun) -> None: ...

    def prefetch_slots(self) -> list[str]:
        """Busy workers that may queue one attempt ahead (none: the backend does not queue)."""
        ...

    def revoke(self, worker_id: str) -> None:
        """Ask a worker to give back its queued attempt."""
        ...

    def poll(self, timeout_s: float) -> list[BackendMessage]: ...

    def answer(self, worker_id: str, message: dict[str, Any]) -> None:
        """Send a worker the answer to its request (e.g. a budget reservation)."""
        ...

    def cancel(self, worker_id: str) -> None: ...

    def kill_worker(self, worker_id: str, reason: str) -> BackendMessage | None: ...

    def replace_worker(self, worker_id: str) -> WorkerInfo | None: ...

    def workers(self) -> list[WorkerInfo]: ...

    def shutdown(self) -> None: ...
