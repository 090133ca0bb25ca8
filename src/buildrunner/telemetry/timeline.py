"""One session as a timeline: its tasks, attempts, model calls, checks and marks.

The data model that `session_reader.load_timeline` fills from the store and that the trace export
(`trace.py`) and the build report (`report/`) draw, so both show the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from buildrunner.errors import BuildRunnerError
from buildrunner.telemetry.timeline_marks import Finding, Mark


class SessionNotFound(BuildRunnerError):
    """No session with this id in the store."""


@dataclass
class ModelCall:
    """One model call (or Claude Code run): it ended at `end` after `end - start` seconds."""

    task_id: str | None
    start: float
    end: float
    model: str
    provider: str
    operation: str
    ok: bool
    cost_usd: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    error_type: str | None = None
    finish_reason: str | None = None


@dataclass
class Check:
    """One run of one check command of an agent task (passed None: no result recorded)."""

    task_id: str
    attempt: int
    rung: int
    round: int
    model: str | None
    command: str
    start: float
    end: float
    passed: bool | None
    exit_code: int | None = None
    timed_out: bool = False
    output_tail: str = ""


@dataclass
class Attempt:
    """One run of one task on one worker, as the `attempts` table has it."""

    task_id: str
    attempt: int
    worker_id: str | None
    status: str  # running | succeeded | failed | lost | cancelled
    start: float
    end: float | None
    exit_code: int | None
    error: str | None
    cpu_s: float | None = None
    max_rss_mb: float | None = None
    calls: list[ModelCall] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    rung: int | None = None
    verdict: str | None = None  # accepted | unverified | cached | rejected
    cache_hit: bool = False
    model: str | None = None

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd for call in self.calls)

    def duration_s(self, until: float) -> float:
        """How long it ran (a running attempt: until `until`)."""
        return max(0.0, (self.end if self.end is not None else until) - self.start)


@dataclass
class Task:
    """One task of the plan with everything the session recorded about it."""

    task_id: str
    kind: str
    status: str
    position: int
    description: str
    depends_on: list[str]
    error: str | None
    stored_cost_usd: float  # the tasks row's own total (routing's cost rows)
    model: str | None
    attempts: list[Attempt] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)  # all of the task's calls
    complexity: str | None = None
    ladder: list[str] = field(default_factory=list)  # the models it may climb through
    escalations: list[tuple[str, str, int]] = field(default_factory=list)  # from, to, rung
    verdict: str | None = None
    fix_rounds: int | None = None
    cached: dict[str, Any] | None = None  # the task_cached event's fields

    @property
    def cost_usd(self) -> float:
        """What its model calls cost (events), else what routing recorded for it."""
        return sum(call.cost_usd for call in self.calls) if self.calls else self.stored_cost_usd

    def busy_s(self, until: float) -> float:
        """Time its attempts ran, all attempts together."""
        return sum(attempt.duration_s(until) for attempt in self.attempts)


@dataclass
class SessionInfo:
    session_id: str
    name: str
    status: str
    backend: str
    workers: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    total_tasks: int
    error: str | None
    budget_usd: str | None


@dataclass
class Timeline:
    """Everything one session recorded, in time order (its attempts are fixed when it is made:
    the start, end and workers are computed once)."""

    session: SessionInfo
    tasks: list[Task]
    attempts: list[Attempt]
    calls: list[ModelCall]
    checks: list[Check]
    marks: list[Mark]
    findings: list[Finding]
    alerts: list[dict[str, Any]]
    now: float  # the end of anything still running

    @cached_property
    def start(self) -> float:
        times = [self.session.started_at or self.session.created_at]
        times += [attempt.start for attempt in self.attempts]
        return min(times)

    @cached_property
    def end(self) -> float:
        times = [self.session.ended_at or self.now, self.start]
        times += [attempt.end or self.now for attempt in self.attempts]
        return max(times)

    @cached_property
    def workers(self) -> list[str]:
        """Worker ids in the order they first started an attempt."""
        seen: dict[str, None] = {}
        for attempt in self.attempts:
            if attempt.worker_id:
                seen.setdefault(attempt.worker_id)
        return list(seen)

    @property
    def cost_usd(self) -> float:
        return sum(task.cost_usd for task in self.tasks)

    def task(self, task_id: str) -> Task | None:
        return self._tasks_by_id.get(task_id)

    @cached_property
    def _tasks_by_id(self) -> dict[str, Task]:
        return {task.task_id: task for task in self.tasks}


@dataclass
class Lanes:
    """Thread ids: one per worker, and another for a worker's attempts that overlap in time."""

    names: dict[str, int] = field(default_factory=dict)  # thread name -> tid
    of_attempt: dict[tuple[str, int], int] = field(default_factory=dict)  # (task, attempt) -> tid


def worker_lanes(timeline: Timeline) -> Lanes:
    """A worker runs one attempt at a time; should two of its attempts overlap in the store (a
    lost worker's last task, say), the second goes to an extra lane rather than being clipped,
    so every slice keeps its stored duration and slices on a thread never overlap."""
    lanes = Lanes()
    busy_until: dict[int, float] = {}
    for attempt in sorted(timeline.attempts, key=lambda a: (a.start, a.task_id, a.attempt)):
        base = f"worker {attempt.worker_id}" if attempt.worker_id else "no worker"
        lane = 0
        while True:
            name = base if lane == 0 else f"{base} ({lane + 1})"
            tid = lanes.names.get(name)
            if tid is None:
                tid = lanes.names[name] = 1 + len(lanes.names)
            if busy_until.get(tid, float("-inf")) <= attempt.start + 1e-9:
                break
            lane += 1
        busy_until[tid] = attempt.end if attempt.end is not None else timeline.end
        lanes.of_attempt[(attempt.task_id, attempt.attempt)] = tid
    return lanes
