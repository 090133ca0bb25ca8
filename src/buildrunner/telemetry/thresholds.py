"""Alert thresholds: a table of built-in rules, user overrides, and the metric snapshot they read.

A threshold compares one metric of the snapshot (`measure`) with a value. It is breached only
when the metric exists (None means "no data", e.g. no task ran: never an alert) and, when the
rule has `min_samples`, enough samples were seen. docs/TELEMETRY.md defines each rule.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from buildrunner.config import TelemetrySettings
from buildrunner.errors import ConfigError
from buildrunner.telemetry.metrics import consecutive_task_failures, cost_between, summarize

Level = Literal["info", "warning", "error", "critical"]
LEVEL_ORDER: Mapping[str, int] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
Operator = Literal["<", ">", ">="]


@dataclass(frozen=True)
class Threshold:
    """One alert rule: `metric op value`, held for `for_s` seconds, at `level`."""

    name: str
    metric: str
    op: Operator
    value: float
    level: Level
    description: str
    unit: str = ""
    for_s: float = 0.0
    samples: str | None = None  # metric counting the samples behind `metric`
    min_samples: int = 0

    def breached(self, metrics: Mapping[str, float | None]) -> bool:
        """True when the metric exists, has enough samples and crosses the value."""
        current = metrics.get(self.metric)
        if current is None:
            return False
        if self.samples is not None and (metrics.get(self.samples) or 0) < self.min_samples:
            return False
        if self.op == "<":
            return current < self.value
        if self.op == ">":
            return current > self.value
        return current >= self.value

    def message(self, current: float | None) -> str:
        """A one-line human description of a breach."""
        shown = "n/a" if current is None else f"{current:g}{self.unit}"
        return f"{self.description}: {shown} {self.op} {self.value:g}{self.unit}"


BUILTIN_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "low_success_rate",
        "task_success_rate",
        "<",
        80,
        "warning",
        "task success rate",
        "%",
        samples="task_attempts",
        min_samples=5,
    ),
    Threshold(
        "critical_success_rate",
        "task_success_rate",
        "<",
        50,
        "critical",
        "task success rate",
        "%",
        samples="task_attempts",
        min_samples=5,
    ),
    Threshold(
        "high_error_rate",
        "error_rate",
        ">",
        10,
        "warning",
        "error rate",
        "%",
        samples="outcomes",
        min_samples=10,
    ),
    Threshold(
        "critical_error_rate",
        "error_rate",
        ">",
        25,
        "critical",
        "error rate",
        "%",
        samples="outcomes",
        min_samples=10,
    ),
    Threshold(
        "high_latency",
        "task_p95_ms",
        ">",
        300_000,
        "warning",
        "p95 task duration",
        " ms",
        for_s=60,
        samples="task_attempts",
        min_samples=5,
    ),
    Threshold("hourly_cost", "cost_1h_usd", ">", 2, "error", "model cost in the last hour", " USD"),
    Threshold(
        "daily_cost_limit",
        "cost_24h_usd",
        ">",
        10,
        "warning",
        "model cost in the last 24 hours",
        " USD",
    ),
    Threshold("budget_usage", "budget_usage_pct", ">=", 80, "warning", "highest budget usage", "%"),
    Threshold(
        "consecutive_failures",
        "consecutive_failures",
        ">=",
        3,
        "error",
        "task attempts failed in a row",
    ),
    Threshold(
        "workers_offline", "workers_offline", ">", 0, "warning", "workers lost in the window"
    ),
    Threshold(
        "security_violations",
        "security_violations",
        ">",
        0,
        "critical",
        "security violations in the window",
    ),
)


def thresholds_from_settings(settings: TelemetrySettings) -> list[Threshold]:
    """The built-in thresholds with the user's overrides applied; disabled ones left out."""
    known = {threshold.name: threshold for threshold in BUILTIN_THRESHOLDS}
    unknown = sorted(set(settings.thresholds) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown threshold '{unknown[0]}' in telemetry.thresholds; known: {', '.join(known)}"
        )
    active = []
    for threshold in BUILTIN_THRESHOLDS:
        override = settings.thresholds.get(threshold.name)
        if override is None:
            active.append(threshold)
            continue
        if not override.enabled:
            continue
        active.append(
            replace(
                threshold,
                value=threshold.value if override.value is None else override.value,
                level=override.level or threshold.level,
                for_s=threshold.for_s if override.for_s is None else override.for_s,
            )
        )
    return active


def metric_snapshot(
    conn: sqlite3.Connection, now: float | None = None, window_s: float = 3600.0
) -> dict[str, float | None]:
    """Every metric a threshold can read, measured at `now` over the last `window_s`."""
    now = time.time() if now is None else now
    since = now - window_s
    total = summarize(conn, since, now + 1e-6).total
    return {
        "task_success_rate": total.task_success_rate,
        "task_attempts": total.task_attempts,
        "error_rate": total.error_rate,
        "outcomes": total.task_attempts + total.model_calls,
        "task_p95_ms": total.task_latency.p95_ms,
        "model_p95_ms": total.model_latency.p95_ms,
        "cost_1h_usd": round(cost_between(conn, now - 3600, now + 1e-6), 6),
        "cost_24h_usd": round(cost_between(conn, now - 86400, now + 1e-6), 6),
        "budget_usage_pct": budget_usage_pct(conn, now),
        "consecutive_failures": consecutive_task_failures(conn, since, now + 1e-6),
        "workers_offline": total.workers_offline,
        "security_violations": total.security_violations,
    }


_SCOPE_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month"}


def period_start(scope: str, now: float) -> float | None:
    """Start (epoch seconds, UTC calendar) of a budget period; None for unknown scopes.

    The same calendar periods as the cost tracker's budgets (routing.costs.period_start).
    """
    from buildrunner.routing.costs import period_start as calendar_start

    period = _SCOPE_PERIOD.get(scope)
    return None if period is None else calendar_start(period, now)


def budget_usage_pct(conn: sqlite3.Connection, now: float) -> float | None:
    """Highest spent/limit ratio (in %) over the project budgets and running sessions' budgets.

    Spending is the cost carried by model-call events; periods are UTC calendar periods.
    """
    usages: list[float] = []
    session_limit: int | None = None
    for scope, limit in conn.execute("SELECT scope, limit_micro_usd FROM budgets"):
        if limit <= 0:
            continue
        if scope == "session":
            session_limit = limit
            continue
        start = period_start(scope, now)
        if start is not None:
            usages.append(cost_between(conn, start, now + 1e-6) * 1e6 / limit * 100)
    for session_id, budget_usd in conn.execute(
        "SELECT id, budget_usd FROM sessions WHERE status IN ('running', 'paused')"
    ):
        limit = _micro(budget_usd) or session_limit
        if not limit:
            continue
        spent = (
            conn.execute(
                "SELECT SUM(cost_micro_usd) FROM events WHERE session_id = ?"
                " AND type IN ('model_call_completed', 'model_call_failed')",
                (session_id,),
            ).fetchone()[0]
            or 0
        )
        usages.append(spent / limit * 100)
    return round(max(usages), 3) if usages else None


def _micro(usd: object) -> int | None:
    from buildrunner.routing.costs import to_micro

    try:
        micro = to_micro(str(usd))
    except (ArithmeticError, ValueError):
        return None
    return micro if micro > 0 else None
