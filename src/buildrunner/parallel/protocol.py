"""Messages between the orchestrator and its workers: one JSON object per line.

Orchestrator → worker: {"type": "run", "task": TaskRun} (runs now, or queues behind the running
attempt), {"type": "revoke", "task_id", "attempt"} (give back a queued attempt), {"type": "cancel"}
(stop the running attempt, give back the queued ones), {"type": "stop"}.
Worker → orchestrator: hello, hb (heartbeat), started (task_id, attempt and the process id),
revoked (task_id, attempt: a queued attempt given back unstarted), event (telemetry from inside the
task, e.g. a model call), reserve (request, task_id, attempt, model, amount_usd: money for the
next model call), release (reservation_id: the call failed), done (the result).
Orchestrator → worker, in answer to reserve: {"type": "reserved", "request", "reservation_id"}
(or "reason" when refused).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class TaskRun:
    """Everything a worker needs to execute one attempt of a task (JSON-serialisable)."""

    session_id: str
    task_id: str
    attempt: int
    kind: str  # command | agent
    workdir: str  # absolute
    log_path: str  # absolute
    run: str | None = None
    prompt: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    log_max_bytes: int = 10_000_000  # a longer log keeps only its end
    files: list[str] = field(default_factory=list)
    cpus: float = 1.0  # resources the task needs (the Ray backend schedules on them)
    resources: dict[str, float] = field(default_factory=dict)
    agent: dict[str, Any] = field(default_factory=dict)  # routing decisions for agent tasks

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat JSON-ready fields: no deep copy on the hot path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRun:
        return cls(**data)


@dataclass
class TaskOutcome:
    """What a worker reports when an attempt ends."""

    task_id: str
    attempt: int
    status: Literal["succeeded", "failed", "cancelled"]
    exit_code: int | None = None
    duration_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    error_type: str | None = None
    error: str | None = None
    cost_usd: str = "0"
    model: str | None = None
    changed_files: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # security gate (masked)
    # agent tasks: accepted | rejected | unverified | failed, the rung and fix rounds that gave
    # it, what each rung tried (for the routing history) and the models of the ladder
    verdict: Literal["accepted", "rejected", "unverified", "failed"] | None = None
    rung: int = 0
    fix_rounds: int = 0
    rungs: list[dict[str, Any]] = field(default_factory=list)
    ladder: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat JSON-ready fields: no deep copy on the hot path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskOutcome:
        return cls(**data)


def write_all(fd: int, data: bytes) -> None:
    """Write `data` to a pipe with as few system calls as it takes (no buffer to flush)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def decode(line: bytes) -> dict[str, Any]:
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("message is not an object")
    return value
