"""Metrics over a time window, computed in SQL (see aggregates.py for where the sums come from).

Counts, sums and averages add up the per-minute rollups plus the raw events at the window's
edges; latency percentiles are exact (linear interpolation, numpy's default method): found by
rank on the duration indexes for totals, or read and sorted per group.

Definitions (docs/TELEMETRY.md repeats them):
- task success rate = task_completed / (task_completed + task_failed) x 100, per attempt;
  None when there was no attempt (never "0 %" on an idle project).
- error rate = (task_failed + model_call_failed) / (task attempts + model calls) x 100.
- task latency = duration_ms of task_completed and task_failed; model latency = latency_ms of
  model_call_completed and model_call_failed.
- cost = sum of cost_micro_usd of every event in the window (model calls carry it).
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from buildrunner.telemetry.aggregates import (
    aggregates,
    duration_at_rank,
    has_percentile_indexes,
    schema_objects,
)

GroupBy = Literal["model", "session", "kind"]
GROUP_COLUMNS: dict[str, str] = {"model": "model", "session": "session_id", "kind": "kind"}

TASK_OUTCOMES = ("task_completed", "task_failed")
MODEL_OUTCOMES = ("model_call_completed", "model_call_failed")


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` quantile of already sorted values, linear interpolation (numpy 'linear')."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    weight = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * weight


@dataclass
class Latency:
    """Latency distribution in milliseconds."""

    count: int = 0
    avg_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> Latency:
        if not values:
            return cls()
        values.sort()
        return cls(
            count=len(values),
            avg_ms=_round(math.fsum(values) / len(values)),
            p50_ms=_round(percentile(values, 0.50)),
            p95_ms=_round(percentile(values, 0.95)),
            p99_ms=_round(percentile(values, 0.99)),
            max_ms=values[-1],
        )


@dataclass
class Stats:
    """Metrics of one group (or of everything) over the window."""

    key: str | None = None
    events: int = 0
    task_attempts: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    tasks_retried: int = 0
    tasks_skipped: int = 0
    task_success_rate: float | None = None
    task_latency: Latency = field(default_factory=Latency)
    model_calls: int = 0
    model_calls_failed: int = 0
    model_success_rate: float | None = None
    model_latency: Latency = field(default_factory=Latency)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error_rate: float | None = None
    errors: dict[str, int] = field(default_factory=dict)  # "type:error_type" -> count
    security_violations: int = 0
    budget_exceeded: int = 0
    fallbacks: int = 0
    workers_offline: int = 0
    alerts_fired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Summary:
    """Everything `br telemetry summary` shows: totals plus optional groups."""

    since: float
    until: float
    total: Stats
    group_by: str | None = None
    groups: list[Stats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": {
                "since": self.since,
                "until": self.until,
                "hours": _round((self.until - self.since) / 3600),
            },
            **self.total.to_dict(),
            "group_by": self.group_by,
            "groups": [group.to_dict() for group in self.groups],
        }


def summarize(
    conn: sqlite3.Connection, since: float, until: float, group_by: GroupBy | None = None
) -> Summary:
    """Metrics of the events with `since <= ts < until`, in total and per group."""
    total = _compute(conn, since, until, None)
    if not total:
        return Summary(since, until, Stats(), group_by)
    groups: list[Stats] = []
    if group_by is not None:
        by_key = _compute(conn, since, until, GROUP_COLUMNS[group_by])
        groups = sorted(by_key.values(), key=lambda s: (-s.events, s.key or ""))
    return Summary(since, until, total[None], group_by, groups)


def _compute(
    conn: sqlite3.Connection, since: float, until: float, column: str | None
) -> dict[str | None, Stats]:
    objects = schema_objects(conn)
    stats: dict[str | None, Stats] = defaultdict(Stats)
    moments: dict[tuple[str | None, str], list[float]] = {}  # (key, class) -> count, sum
    for cell in aggregates(conn, since, until, column, objects):
        group = stats[cell.key]
        group.events += cell.events
        group.cost_usd += cell.cost_micro_usd / 1_000_000
        group.input_tokens += cell.input_tokens
        group.output_tokens += cell.output_tokens
        _count(group, cell.type, cell.events)
        if cell.type in ("task_failed", "model_call_failed"):
            label = f"{'task' if cell.type == 'task_failed' else 'model'}:"
            label += cell.error_type or "unknown"
            group.errors[label] = group.errors.get(label, 0) + cell.events
        outcome_class = (
            "task"
            if cell.type in TASK_OUTCOMES
            else "model"
            if cell.type in MODEL_OUTCOMES
            else None
        )
        if outcome_class and cell.durations:
            seen = moments.setdefault((cell.key, outcome_class), [0, 0.0])
            seen[0] += cell.durations
            seen[1] += cell.duration_sum
    groups = {key: group for key, group in stats.items() if group.events}
    latency = _latencies(conn, since, until, column, objects, moments)
    for key, group in groups.items():
        group.key = key
        group.cost_usd = _round(group.cost_usd, 6) or 0.0
        group.errors = dict(sorted(group.errors.items(), key=lambda item: (-item[1], item[0])))
        group.task_latency = latency.get((key, "task")) or Latency()
        group.model_latency = latency.get((key, "model")) or Latency()
        group.task_success_rate = _rate(group.tasks_succeeded, group.task_attempts)
        group.model_success_rate = _rate(
            group.model_calls - group.model_calls_failed, group.model_calls
        )
        group.error_rate = _rate(
            group.tasks_failed + group.model_calls_failed, group.task_attempts + group.model_calls
        )
    return groups


def _latencies(
    conn: sqlite3.Connection,
    since: float,
    until: float,
    column: str | None,
    objects: set[str],
    moments: dict[tuple[str | None, str], list[float]],
) -> dict[tuple[str | None, str], Latency]:
    """Latency per (key, class): by rank on the duration indexes in total, else by reading."""
    found: dict[tuple[str | None, str], Latency] = {}
    pending = [("task", TASK_OUTCOMES), ("model", MODEL_OUTCOMES)]
    if column is None and has_percentile_indexes(objects):
        pending = []
        for kind, types in (("task", TASK_OUTCOMES), ("model", MODEL_OUTCOMES)):
            seen = moments.get((None, kind))
            if not seen:
                continue
            latency = _ranked_latency(conn, kind, since, until, int(seen[0]), seen[1])
            if latency is None:
                pending.append((kind, types))
            else:
                found[(None, kind)] = latency
    key_sql = column or "NULL"
    for kind, types in pending:
        for key, values in _durations(conn, since, until, types, key_sql).items():
            found[(key, kind)] = Latency.of(values)
    return found


def _ranked_latency(
    conn: sqlite3.Connection, kind: str, since: float, until: float, count: int, total: float
) -> Latency | None:
    ranks = [
        duration_at_rank(conn, kind, since, until, count, fraction)
        for fraction in (0.50, 0.95, 0.99, 1.0)
    ]
    if any(rank is None for rank in ranks):
        return None
    p50, p95, p99, largest = ranks
    return Latency(
        count=count,
        avg_ms=_round(total / count),
        p50_ms=_round(p50),
        p95_ms=_round(p95),
        p99_ms=_round(p99),
        max_ms=largest,
    )


_COUNTERS: dict[str, tuple[str, ...]] = {
    "task_completed": ("task_attempts", "tasks_succeeded"),
    "task_failed": ("task_attempts", "tasks_failed"),
    "task_retried": ("tasks_retried",),
    "task_skipped": ("tasks_skipped",),
    "model_call_completed": ("model_calls",),
    "model_call_failed": ("model_calls", "model_calls_failed"),
    "security_violation": ("security_violations",),
    "budget_exceeded": ("budget_exceeded",),
    "fallback_triggered": ("fallbacks",),
    "worker_offline": ("workers_offline",),
    "alert_fired": ("alerts_fired",),
}


def _count(group: Stats, event_type: str, count: int) -> None:
    for name in _COUNTERS.get(event_type, ()):
        setattr(group, name, getattr(group, name) + count)


def _durations(
    conn: sqlite3.Connection, since: float, until: float, types: Iterable[str], key_sql: str
) -> dict[str | None, list[float]]:
    types = tuple(types)
    marks = ",".join("?" * len(types))
    sql = (
        f"SELECT {key_sql}, duration_ms FROM events INDEXED BY events_metrics"
        f" WHERE type IN ({marks}) AND ts >= ? AND ts < ? AND duration_ms IS NOT NULL"
    )
    params = (*types, since, until)
    if key_sql == "NULL":  # one list: skip the per-row grouping
        cursor = conn.cursor()
        cursor.row_factory = None
        values = [row[0] for row in cursor.execute(sql.replace("NULL, ", "", 1), params)]
        return {None: values} if values else {}
    found: dict[str | None, list[float]] = defaultdict(list)
    cursor = conn.cursor()
    cursor.row_factory = None
    for key, value in cursor.execute(sql, params):
        found[key].append(value)
    return dict(found)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else _round(part / whole * 100)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def cost_between(conn: sqlite3.Connection, since: float, until: float) -> float:
    """Dollars carried by events with `since <= ts < until` (model calls carry cost)."""
    return sum(cell.cost_micro_usd for cell in aggregates(conn, since, until, None)) / 1_000_000


def consecutive_task_failures(conn: sqlite3.Connection, since: float, until: float) -> int:
    """Task attempts that failed since the newest successful one (within the window)."""
    last_success = conn.execute(
        "SELECT MAX(ts) FROM events WHERE type = 'task_completed' AND ts >= ? AND ts < ?",
        (since, until),
    ).fetchone()[0]
    if last_success is None:
        sql, start = "SELECT COUNT(*) FROM events WHERE type = 'task_failed' AND ts >= ?", since
    else:
        sql, start = (
            "SELECT COUNT(*) FROM events WHERE type = 'task_failed' AND ts > ?",
            last_success,
        )
    return int(conn.execute(sql + " AND ts < ?", (start, until)).fetchone()[0])
