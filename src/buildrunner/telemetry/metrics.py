"""Metrics over a time window, computed in SQL on the covering `events_metrics` index.

Counts, sums and averages are SQL aggregates; latency percentiles read only the duration
column of the outcome events (one index range scan) and are computed in Python with linear
interpolation (numpy's default method), so they are exact on any number of events.

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

GroupBy = Literal["model", "session", "kind"]
GROUP_COLUMNS: dict[str, str] = {"model": "model", "session": "session_id", "kind": "kind"}

TASK_OUTCOMES = ("task_completed", "task_failed")
MODEL_OUTCOMES = ("model_call_completed", "model_call_failed")
COUNTED_TYPES = (
    *TASK_OUTCOMES, *MODEL_OUTCOMES, "task_retried", "task_skipped", "security_violation",
    "budget_exceeded", "fallback_triggered", "worker_offline", "alert_fired",
)


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
            "window": {"since": self.since, "until": self.until,
                       "hours": _round((self.until - self.since) / 3600)},
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
    key_sql = column or "NULL"
    # Grouping by `type` alone follows the index order (no temporary B-tree): much faster.
    group_sql = "type" if column is None else "1, 2"
    marks = ",".join("?" * len(COUNTED_TYPES))
    stats: dict[str | None, Stats] = defaultdict(Stats)
    rows = conn.execute(
        f"SELECT {key_sql}, type, COUNT(*), SUM(cost_micro_usd), SUM(input_tokens),"
        f" SUM(output_tokens) FROM events INDEXED BY events_metrics"
        f" WHERE type IN ({marks}) AND ts >= ? AND ts < ? GROUP BY {group_sql}",
        (*COUNTED_TYPES, since, until),
    )
    for key, event_type, count, cost, tokens_in, tokens_out in rows:
        group = stats[key]
        group.events += count
        group.cost_usd += (cost or 0) / 1_000_000
        group.input_tokens += tokens_in or 0
        group.output_tokens += tokens_out or 0
        _count(group, event_type, count)
    if column is None:
        # every other event only counts; the narrow ts index counts a range fastest
        everything = conn.execute(
            "SELECT COUNT(*) FROM events INDEXED BY events_ts WHERE ts >= ? AND ts < ?",
            (since, until),
        ).fetchone()[0]
        if everything:
            stats[None].events = everything
    else:
        for key, count, cost in conn.execute(
            f"SELECT {key_sql}, COUNT(*), SUM(cost_micro_usd) FROM events"
            f" INDEXED BY events_metrics WHERE type NOT IN ({marks}) AND ts >= ? AND ts < ?"
            f" GROUP BY 1",
            (*COUNTED_TYPES, since, until),
        ):
            stats[key].events += count
            stats[key].cost_usd += (cost or 0) / 1_000_000
    for key, event_type, error_type, count in conn.execute(
        f"SELECT {key_sql}, type, error_type, COUNT(*) FROM events INDEXED BY events_metrics"
        f" WHERE type IN (?, ?) AND ts >= ? AND ts < ? GROUP BY 1, 2, 3",
        ("task_failed", "model_call_failed", since, until),
    ):
        label = f"{'task' if event_type == 'task_failed' else 'model'}:{error_type or 'unknown'}"
        stats[key].errors[label] = stats[key].errors.get(label, 0) + count
    task_durations = _durations(conn, since, until, TASK_OUTCOMES, key_sql)
    model_durations = _durations(conn, since, until, MODEL_OUTCOMES, key_sql)
    for key, group in stats.items():
        group.key = key
        group.cost_usd = _round(group.cost_usd, 6) or 0.0
        group.errors = dict(sorted(group.errors.items(), key=lambda item: (-item[1], item[0])))
        group.task_latency = Latency.of(task_durations.get(key, []))
        group.model_latency = Latency.of(model_durations.get(key, []))
        group.task_success_rate = _rate(group.tasks_succeeded, group.task_attempts)
        group.model_success_rate = _rate(group.model_calls - group.model_calls_failed,
                                         group.model_calls)
        group.error_rate = _rate(group.tasks_failed + group.model_calls_failed,
                                 group.task_attempts + group.model_calls)
    return dict(stats)


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
    """Dollars carried by model-call events with `since <= ts < until`."""
    row = conn.execute(
        "SELECT SUM(cost_micro_usd) FROM events INDEXED BY events_metrics"
        " WHERE type IN (?, ?) AND ts >= ? AND ts < ?",
        (*MODEL_OUTCOMES, since, until),
    ).fetchone()
    return (row[0] or 0) / 1_000_000


def consecutive_task_failures(conn: sqlite3.Connection, since: float, until: float) -> int:
    """Task attempts that failed since the newest successful one (within the window)."""
    last_success = conn.execute(
        "SELECT MAX(ts) FROM events WHERE type = 'task_completed' AND ts >= ? AND ts < ?",
        (since, until),
    ).fetchone()[0]
    if last_success is None:
        sql, start = "SELECT COUNT(*) FROM events WHERE type = 'task_failed' AND ts >= ?", since
    else:
        sql, start = "SELECT COUNT(*) FROM events WHERE type = 'task_failed' AND ts > ?", last_success
    return int(conn.execute(sql + " AND ts < ?", (start, until)).fetchone()[0])
