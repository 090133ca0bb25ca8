"""Small read-only lookups behind `br telemetry` (the CLI parses and renders; SQL lives here)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from buildrunner.telemetry.events import LEVELS

ALERT_STATUSES = ("pending", "firing", "resolved")


def list_alerts(
    conn: sqlite3.Connection,
    *,
    statuses: Sequence[str] = ("pending", "firing"),
    min_level: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Stored alerts with one of `statuses`, at `min_level` or above, newest first."""
    wanted = LEVELS[LEVELS.index(min_level) :] if min_level else LEVELS
    sql = (
        f"SELECT * FROM alerts WHERE status IN ({_marks(statuses)})"
        f" AND level IN ({_marks(wanted)}) ORDER BY id DESC"
    )
    params: list[Any] = [*statuses, *wanted]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [dict(row) for row in conn.execute(sql, params)]


def firing_alerts_count(conn: sqlite3.Connection) -> int:
    """How many alerts fire now."""
    return int(conn.execute("SELECT COUNT(*) FROM alerts WHERE status = 'firing'").fetchone()[0])


def stored_event_types(conn: sqlite3.Connection, names: Sequence[str]) -> set[str]:
    """Which of `names` occur as an event type in the store (types no class describes yet)."""
    if not names:
        return set()
    return {
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT type FROM events WHERE type IN ({_marks(names)})", list(names)
        )
    }


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def cache_savings(
    conn: sqlite3.Connection, since: float | None = None, until: float | None = None
) -> dict[str, Any]:
    """Task-cache hits (`task_cached` events) in a window, and the money and time they saved."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CAST(json_extract(payload, '$.saved_usd') AS REAL)), 0),"
        " COALESCE(SUM(CAST(json_extract(payload, '$.saved_s') AS REAL)), 0) FROM events"
        " WHERE type = 'task_cached' AND ts >= ? AND ts < ?",
        (
            since if since is not None else float("-inf"),
            until if until is not None else float("inf"),
        ),
    ).fetchone()
    return {"hits": int(row[0]), "saved_usd": f"{row[1]:.6f}", "saved_s": round(float(row[2]), 3)}
