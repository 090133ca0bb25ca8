"""What a build run reports: progress updates for the CLI and the summary at the end."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# defined in buildrunner.errors with every error class; re-exported here for the build loop
from buildrunner.errors import Interrupted as Interrupted


@dataclass
class TaskUpdate:
    """A change the CLI may show while the build runs."""

    task_id: str
    status: str
    attempt: int = 0
    duration_s: float | None = None
    detail: str | None = None
    log_path: str | None = None


@dataclass
class RunSummary:
    session_id: str
    name: str
    status: str
    counts: dict[str, int]
    duration_s: float
    tasks: list[dict[str, Any]] = field(default_factory=list)
    merge: dict[str, Any] | None = None  # worktree isolation: how the result was merged back
    extra: dict[str, Any] = field(default_factory=dict)  # cost, alerts, ... (added by the caller)

    def to_json(self) -> dict[str, Any]:
        return (
            ({"merge": self.merge} if self.merge else {})
            | {
                "session_id": self.session_id,
                "name": self.name,
                "status": self.status,
                "tasks": {
                    key: self.counts.get(key, 0) for key in ("succeeded", "failed", "skipped")
                }
                | {
                    "cancelled": self.counts.get("cancelled", 0),
                    "total": sum(self.counts.values()),
                },
                "duration_s": round(self.duration_s, 3),
                "results": self.tasks,
            }
            | self.extra
        )


def closing_facts(conn: sqlite3.Connection, session_id: str, since: float) -> dict[str, Any]:
    """What a build's closing summary adds: its cost, what the cache saved, alerts that fired."""
    spent = conn.execute(
        "SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs WHERE session_id = ?", (session_id,)
    ).fetchone()[0]
    saved = conn.execute(
        "SELECT COALESCE(SUM(CAST(json_extract(payload, '$.saved_usd') AS REAL)), 0) FROM events"
        " WHERE session_id = ? AND type = 'task_cached'",
        (session_id,),
    ).fetchone()[0]
    alerts = [
        dict(row)
        for row in conn.execute(
            "SELECT threshold, level, status, message FROM alerts"
            " WHERE fired_at >= ? AND (session_id IS NULL OR session_id = ?) ORDER BY fired_at",
            (since, session_id),
        )
    ]
    return {
        "cost_usd": f"{Decimal(spent) / 1_000_000:.6f}",
        "saved_usd": f"{Decimal(str(saved)):.6f}",
        "alerts": alerts,
    }
