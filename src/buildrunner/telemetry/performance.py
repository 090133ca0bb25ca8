"""Performance of task runs: per-task timing, throughput, CPU and memory of task processes.

The source is the `attempts` table, one row per run of a task, which the orchestrator fills
with start/end times and, where the platform reports them, the CPU seconds (`cpu_s`) and peak
resident memory (`max_rss_mb`) of the task's process tree. Throughput counts finished attempts
per minute of wall time between the first start and the last end in the window, and per minute
of the whole window.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from buildrunner.telemetry.metrics import percentile

FINISHED = ("succeeded", "failed", "lost", "cancelled")


@dataclass
class TaskTiming:
    session_id: str
    task_id: str
    attempt: int
    kind: str | None
    status: str
    started_at: float
    duration_s: float
    cpu_s: float | None
    cpu_percent: float | None  # cpu_s / wall time: > 100 means several cores
    max_rss_mb: float | None


@dataclass
class Distribution:
    count: int = 0
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> Distribution:
        if not values:
            return cls()
        values.sort()
        return cls(
            len(values),
            _r(math.fsum(values) / len(values)),
            _r(percentile(values, 0.5)),
            _r(percentile(values, 0.95)),
            _r(values[-1]),
        )


@dataclass
class KindStats:
    kind: str | None
    attempts: int
    succeeded: int
    duration_s: Distribution
    cpu_s_total: float | None
    max_rss_mb: float | None


@dataclass
class PerformanceReport:
    since: float
    until: float
    attempts: int = 0
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    duration_s: Distribution = field(default_factory=Distribution)
    throughput_per_min: float | None = None  # over the busy span (first start .. last end)
    window_throughput_per_min: float | None = None  # over the whole window
    busy_span_s: float | None = None
    cpu_s_total: float | None = None
    cpu_percent: Distribution = field(default_factory=Distribution)
    max_rss_mb: Distribution = field(default_factory=Distribution)
    by_kind: list[KindStats] = field(default_factory=list)
    slowest: list[TaskTiming] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance_report(
    conn: sqlite3.Connection, since: float, until: float, *, slowest: int = 10
) -> PerformanceReport:
    """Timing, throughput and resources of the task attempts that started in the window."""
    report = PerformanceReport(since, until)
    rows = conn.execute(
        "SELECT a.session_id, a.task_id, a.attempt, a.status, a.started_at, a.ended_at,"
        " a.cpu_s, a.max_rss_mb, t.kind FROM attempts a LEFT JOIN tasks t"
        " ON t.session_id = a.session_id AND t.task_id = a.task_id"
        " WHERE a.started_at >= ? AND a.started_at < ?",
        (since, until),
    ).fetchall()
    timings: list[TaskTiming] = []
    for row in rows:
        report.attempts += 1
        if row["ended_at"] is None or row["status"] not in FINISHED:
            report.running += 1
            continue
        duration = max(row["ended_at"] - row["started_at"], 0.0)
        cpu = row["cpu_s"]
        timings.append(
            TaskTiming(
                row["session_id"],
                row["task_id"],
                row["attempt"],
                row["kind"],
                row["status"],
                row["started_at"],
                _r(duration) or 0.0,
                cpu,
                _r(cpu / duration * 100) if cpu is not None and duration > 0 else None,
                row["max_rss_mb"],
            )
        )
    report.succeeded = sum(1 for t in timings if t.status == "succeeded")
    report.failed = sum(1 for t in timings if t.status in ("failed", "lost"))
    report.duration_s = Distribution.of([t.duration_s for t in timings])
    if timings:
        first = min(t.started_at for t in timings)
        last = max(t.started_at + t.duration_s for t in timings)
        report.busy_span_s = _r(last - first)
        if last > first:
            report.throughput_per_min = _r(len(timings) / (last - first) * 60)
        report.window_throughput_per_min = _r(len(timings) / max(until - since, 1e-9) * 60)
    cpu_values = [t.cpu_s for t in timings if t.cpu_s is not None]
    report.cpu_s_total = _r(math.fsum(cpu_values)) if cpu_values else None
    report.cpu_percent = Distribution.of(
        [t.cpu_percent for t in timings if t.cpu_percent is not None]
    )
    report.max_rss_mb = Distribution.of([t.max_rss_mb for t in timings if t.max_rss_mb is not None])
    report.by_kind = _by_kind(timings)
    report.slowest = sorted(timings, key=lambda t: -t.duration_s)[:slowest]
    return report


def _by_kind(timings: list[TaskTiming]) -> list[KindStats]:
    groups: dict[str | None, list[TaskTiming]] = defaultdict(list)
    for timing in timings:
        groups[timing.kind].append(timing)
    result = []
    for kind, members in sorted(groups.items(), key=lambda item: item[0] or ""):
        cpu = [t.cpu_s for t in members if t.cpu_s is not None]
        rss = [t.max_rss_mb for t in members if t.max_rss_mb is not None]
        result.append(
            KindStats(
                kind,
                len(members),
                sum(1 for t in members if t.status == "succeeded"),
                Distribution.of([t.duration_s for t in members]),
                _r(math.fsum(cpu)) if cpu else None,
                max(rss) if rss else None,
            )
        )
    return result


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
