"""What the build report shows, computed from a `Timeline` (the template only lays it out).

Numbers are computed here once (totals, the critical path, costs by task and model, each agent
task's ladder); the Gantt chart's geometry is in `gantt.py`; log excerpts in `logs.py`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildrunner.telemetry.critical_path import CriticalPath, critical_path
from buildrunner.telemetry.report.gantt import Gantt, build_gantt
from buildrunner.telemetry.report.logs import LogExcerpt, log_excerpts
from buildrunner.telemetry.timeline import Check, Task, Timeline
from buildrunner.telemetry.timeline_marks import Finding, Mark

STATUSES = (
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
    "running",
    "pending",
    "queued",
    "waiting",
)


@dataclass
class Rung:
    """One model of a task's ladder, as far as the task got on it."""

    model: str
    state: str  # passed | failed | escalated | ran | not-reached
    checks_passed: int = 0
    checks_failed: int = 0
    fix_rounds: int = 0


@dataclass
class Ladder:
    task_id: str
    complexity: str | None
    rungs: list[Rung]
    verdict: str | None
    fix_rounds: int | None
    escalations: int


@dataclass
class TaskRow:
    task: Task
    offset_s: float | None  # first start, seconds after the session started
    busy_s: float
    workers: list[str]
    model: str | None
    rung: int | None
    verdict: str | None
    cost_usd: float
    critical: bool
    logs: list[tuple[str, int]]  # (anchor, attempt) of its attempts' log excerpts


@dataclass
class ModelCost:
    model: str
    calls: int
    failed: int
    input_tokens: int  # all input: uncached + cache reads and writes
    output_tokens: int
    cost_usd: float
    share: float  # of the session's cost, 0..1


@dataclass
class ReportView:
    timeline: Timeline
    generated_at: float
    duration_s: float
    counts: dict[str, int]
    attempts: int
    retried: int
    cached: int
    cost_usd: float
    calls: int
    calls_failed: int
    input_tokens: int
    output_tokens: int
    critical: CriticalPath
    gantt: Gantt
    tasks: list[TaskRow]
    costly_tasks: list[TaskRow]
    models: list[ModelCost]
    ladders: list[Ladder]
    checks: list[Check]
    findings: list[Finding]
    marks: list[Mark]
    alerts: list[dict[str, Any]]
    logs: list[LogExcerpt]

    @property
    def critical_share(self) -> float:
        return self.critical.length_s / self.duration_s if self.duration_s > 0 else 0.0


def build_view(
    timeline: Timeline, *, logs_root: Path | None, generated_at: float, max_log_bytes: int
) -> ReportView:
    """Everything the report shows."""
    end = timeline.end
    busy = {task.task_id: task.busy_s(end) for task in timeline.tasks}
    path = critical_path(
        [t.task_id for t in timeline.tasks], {t.task_id: t.depends_on for t in timeline.tasks}, busy
    )
    on_path = set(path.task_ids)
    logs = log_excerpts(timeline, logs_root, max_log_bytes)
    anchors: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for excerpt in logs:
        anchors[excerpt.task_id].append((excerpt.anchor, excerpt.attempt))
    rows = [
        _task_row(
            timeline, task, busy[task.task_id], task.task_id in on_path, anchors[task.task_id]
        )
        for task in timeline.tasks
    ]
    counts = {status: 0 for status in STATUSES}
    for task in timeline.tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    calls = timeline.calls
    return ReportView(
        timeline=timeline,
        generated_at=generated_at,
        duration_s=end - timeline.start,
        counts={status: count for status, count in counts.items() if count},
        attempts=len(timeline.attempts),
        retried=sum(1 for task in timeline.tasks if len(task.attempts) > 1),
        cached=sum(
            1
            for task in timeline.tasks
            if task.cached or any(attempt.cache_hit for attempt in task.attempts)
        ),
        cost_usd=timeline.cost_usd,
        calls=len(calls),
        calls_failed=sum(1 for call in calls if not call.ok),
        input_tokens=sum(
            c.input_tokens + c.cache_read_tokens + c.cache_write_tokens for c in calls
        ),
        output_tokens=sum(call.output_tokens for call in calls),
        critical=path,
        gantt=build_gantt(timeline, on_path),
        tasks=rows,
        costly_tasks=sorted(
            (row for row in rows if row.cost_usd > 0),
            key=lambda row: (-row.cost_usd, row.task.position),
        )[:25],
        models=_models(timeline),
        ladders=[_ladder(task) for task in timeline.tasks if task.kind == "agent"],
        checks=timeline.checks,
        findings=timeline.findings,
        marks=timeline.marks,
        alerts=timeline.alerts,
        logs=logs,
    )


def _task_row(
    timeline: Timeline, task: Task, busy_s: float, critical: bool, logs: list[tuple[str, int]]
) -> TaskRow:
    attempts = task.attempts
    last = attempts[-1] if attempts else None
    workers = list(dict.fromkeys(a.worker_id for a in attempts if a.worker_id))
    return TaskRow(
        task=task,
        offset_s=attempts[0].start - timeline.start if attempts else None,
        busy_s=busy_s,
        workers=workers,
        model=(last.model if last else None) or task.model,
        rung=max((a.rung for a in attempts if a.rung), default=None),
        verdict=task.verdict or (last.verdict if last else None),
        cost_usd=task.cost_usd,
        critical=critical,
        logs=logs,
    )


def _models(timeline: Timeline) -> list[ModelCost]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])
    for call in timeline.calls:
        row = sums[call.model or "?"]
        row[0] += 1
        row[1] += 0 if call.ok else 1
        row[2] += call.input_tokens + call.cache_read_tokens + call.cache_write_tokens
        row[3] += call.output_tokens
        row[4] += call.cost_usd
    total = sum(row[4] for row in sums.values())
    costs = [
        ModelCost(
            model,
            int(r[0]),
            int(r[1]),
            int(r[2]),
            int(r[3]),
            r[4],
            r[4] / total if total > 0 else 0.0,
        )
        for model, r in sums.items()
    ]
    return sorted(costs, key=lambda cost: (-cost.cost_usd, -cost.calls, cost.model))


def _ladder(task: Task) -> Ladder:
    """The models a task could climb through and how far it got: the ladder of its
    model_selected event, extended by escalations and by models it called that the ladder did
    not name (fallbacks); an older build with no ladder shows the models it called."""
    models = list(task.ladder)
    for _, to_model, _ in task.escalations:
        if to_model and to_model not in models:
            models.append(to_model)
    called = list(dict.fromkeys(call.model for call in task.calls if call.ok and call.model))
    if not models:
        models = called or ([task.model] if task.model else [])
    checks = [check for attempt in task.attempts for check in attempt.checks]
    top = max(
        [rung for *_, rung in task.escalations]
        + [a.rung or 0 for a in task.attempts]
        + [1 if task.attempts else 0]
    )
    rungs = []
    for index, model in enumerate(models, start=1):
        own = [check for check in checks if check.rung == index]
        rung = Rung(
            model,
            "not-reached",
            sum(1 for c in own if c.passed),
            sum(1 for c in own if c.passed is False),
            max((check.round for check in own), default=0),
        )
        if index < top:
            rung.state = "escalated"
        elif index == top:
            rung.state = _top_state(task, rung)
        rungs.append(rung)
    return Ladder(
        task.task_id, task.complexity, rungs, task.verdict, task.fix_rounds, len(task.escalations)
    )


def _top_state(task: Task, rung: Rung) -> str:
    if task.verdict in ("accepted", "cached") or (rung.checks_passed and not task.verdict):
        return "passed"
    if task.verdict == "rejected" or task.status == "failed":
        return "failed"
    return "ran"
