"""What the dashboard and `br parallel status` show, computed from the store as plain data.

Only reads: safe from any terminal while builds run. Times are ages relative to an injectable clock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from buildrunner.errors import SessionError
from buildrunner.parallel.locks import list_locks, owner_alive
from buildrunner.parallel.sessions import (
    ACTIVE,
    SessionRow,
    get_session,
    iso,
    list_sessions,
    task_counts,
)

Clock = Callable[[], float]
TASK_DONE = ("succeeded", "failed", "skipped", "cancelled")


def session_state(row: SessionRow) -> str:
    """The status to show: like `effective_status`, and a never-started orphan is interrupted too."""
    status = row.effective_status
    if status == "pending" and not row.owner_alive:
        return "interrupted"
    return status


def session_view(conn: sqlite3.Connection, row: SessionRow, at: float) -> dict[str, Any]:
    """One session as shown by `list`, `status` and the dashboard."""
    counts = task_counts(conn, row.id)
    done = sum(counts[status] for status in TASK_DONE)
    total = row.total_tasks or sum(counts.values())
    end = row.ended_at if row.ended_at is not None and row.status not in ACTIVE else at
    view = row.to_dict() | {
        "status": session_state(row),
        "stored_status": row.status,
        "tasks": counts | {"total": total},
        "progress": round(100.0 * done / total, 1) if total else 100.0,
        "elapsed_s": round(end - row.started_at, 1) if row.started_at else None,
    }
    if view["status"] == "interrupted" or row.status == "failed":
        view["resume_hint"] = f"br parallel resume {row.id}"
    return view


def snapshot(
    conn: sqlite3.Connection, session_ref: str | None = None, *, clock: Clock = time.time
) -> dict[str, Any]:
    """Everything the dashboard shows, as plain data.

    `session_ref` picks the focused session (id, prefix or name); None means the newest one.
    With no sessions at all, `session` is None and the lists are empty.
    """
    at = clock()
    try:
        focus = get_session(conn, session_ref)
    except SessionError:
        if session_ref is not None:
            raise
        focus = None
    active = [row for row in list_sessions(conn) if session_state(row) in ACTIVE]
    data: dict[str, Any] = {
        "generated_at": iso(at),
        "session": session_view(conn, focus, at) if focus else None,
        "sessions": [_session_line(conn, row, at) for row in active],
        "running": [],
        "waiting": [],
        "queued": [],
        "done": [],
        "failed": [],
        "workers": [],
        "locks": locks_view(conn, None, at),
        "cost_usd": 0.0,
        "alerts": alerts_view(conn),
    }
    if focus is None:
        return data
    tasks = conn.execute(
        "SELECT task_id, kind, status, priority, attempts, worker_id, started_at, ended_at,"
        " duration_s, exit_code, log_path, waiting_on, error FROM tasks WHERE session_id = ?"
        " ORDER BY position",
        (focus.id,),
    ).fetchall()
    for task in tasks:
        status = task["status"]
        if status == "running":
            data["running"].append(
                {
                    "task_id": task["task_id"],
                    "worker_id": task["worker_id"],
                    "attempt": task["attempts"],
                    "elapsed_s": _age(task["started_at"], at),
                }
            )
        elif status == "waiting":
            data["waiting"].append({"task_id": task["task_id"], "waiting_on": task["waiting_on"]})
        elif status in ("queued", "pending"):
            data["queued"].append(
                {
                    "task_id": task["task_id"],
                    "status": status,
                    "priority": task["priority"],
                }
            )
        elif status in TASK_DONE:
            data["done"].append(
                {
                    "task_id": task["task_id"],
                    "status": status,
                    "attempts": task["attempts"],
                    "duration_s": task["duration_s"],
                    "ended_at": task["ended_at"],
                }
            )
        if status == "failed":
            data["failed"].append(
                {
                    "task_id": task["task_id"],
                    "exit_code": task["exit_code"],
                    "error": task["error"],
                    "log_path": task["log_path"],
                }
            )
    data["queued"].sort(key=lambda item: (item["status"] != "queued", -item["priority"]))
    data["done"].sort(key=lambda item: item["ended_at"] or 0.0, reverse=True)
    data["workers"] = workers_view(conn, focus.id, at)
    data["cost_usd"] = session_cost_usd(conn, focus.id)
    return data


def _session_line(conn: sqlite3.Connection, row: SessionRow, at: float) -> dict[str, Any]:
    view = session_view(conn, row, at)
    return {key: view[key] for key in ("id", "name", "status", "progress", "tasks", "elapsed_s")}


def workers_view(
    conn: sqlite3.Connection, session_id: str | None, at: float
) -> list[dict[str, Any]]:
    """Workers (of one session, or of every session) with their heartbeat age.

    A worker recorded idle or busy whose process is gone on this host shows as 'offline'.
    """
    query = "SELECT * FROM workers"
    params: tuple[Any, ...] = ()
    if session_id is not None:
        query += " WHERE session_id = ?"
        params = (session_id,)
    result = []
    for row in conn.execute(query + " ORDER BY started_at, id", params):
        status = row["status"]
        if (
            status in ("idle", "busy")
            and row["pid"] is not None
            and not owner_alive(row["pid"], row["host"])
        ):
            status = "offline"
        result.append(
            {
                "id": row["id"],
                "session_id": row["session_id"],
                "pid": row["pid"],
                "host": row["host"],
                "status": status,
                "current_task": row["current_task"],
                "heartbeat_age_s": _age(row["last_heartbeat"], at),
                "tasks_completed": row["tasks_completed"],
                "tasks_failed": row["tasks_failed"],
            }
        )
    return result


def locks_view(conn: sqlite3.Connection, session_id: str | None, at: float) -> list[dict[str, Any]]:
    """Held file locks, oldest first, with whether their owner process still runs."""
    return [
        {
            "path": lock.path,
            "session_id": lock.session_id,
            "task_id": lock.task_id,
            "owner_pid": lock.owner_pid,
            "owner_host": lock.owner_host,
            "acquired_at": iso(lock.acquired_at),
            "held_s": _age(lock.acquired_at, at),
            "owner_alive": owner_alive(lock.owner_pid, lock.owner_host),
        }
        for lock in list_locks(conn, session_id)
    ]


def session_cost_usd(conn: sqlite3.Connection, session_id: str | None = None) -> float:
    """Money spent so far by one session (or by all), from the cost tracker, in USD."""
    from buildrunner.routing.costs import CostTracker, from_micro

    if session_id is None:  # every cost row, whatever its time (a dashboard total)
        row = conn.execute("SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs").fetchone()
        return float(from_micro(row[0]))
    return float(CostTracker(conn).spent("session", session_id))


def alerts_view(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Alerts that are firing now, newest first."""
    rows = conn.execute(
        "SELECT id, threshold, level, message, value, threshold_value, session_id, fired_at"
        " FROM alerts WHERE status = 'firing' ORDER BY fired_at DESC, id DESC"
    ).fetchall()
    return [dict(row) | {"fired_at": iso(row["fired_at"])} for row in rows]


def _age(ts: float | None, at: float) -> float | None:
    return None if ts is None else round(max(0.0, at - ts), 1)


def summary(conn: sqlite3.Connection, *, clock: Clock = time.time) -> dict[str, Any]:
    """Totals across every session: `br parallel summary`."""
    at = clock()
    rows = list_sessions(conn)
    by_status: dict[str, int] = dict.fromkeys(
        ("pending", "running", "paused", "completed", "failed", "cancelled", "interrupted"), 0
    )
    for row in rows:
        by_status[session_state(row)] = by_status.get(session_state(row), 0) + 1
    active = [row for row in rows if session_state(row) in ACTIVE]
    tasks = dict.fromkeys(
        ("pending", "queued", "waiting", "running", "succeeded", "failed", "skipped", "cancelled"),
        0,
    )
    for task in conn.execute("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status"):
        tasks[task["status"]] = task["n"]
    workers: dict[str, int] = dict.fromkeys(("idle", "busy", "offline", "stopped"), 0)
    for row in active:
        for worker in workers_view(conn, row.id, at):
            workers[worker["status"]] = workers.get(worker["status"], 0) + 1
    live = workers["idle"] + workers["busy"]
    return {
        "generated_at": iso(at),
        "sessions": {"total": len(rows), "by_status": by_status},
        "active": [_session_line(conn, row, at) for row in active],
        "tasks": tasks,
        "workers": {
            "by_status": workers,
            "utilization": round(100.0 * workers["busy"] / live, 1) if live else 0.0,
        },
        "locks_held": conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0],
        "cost_usd": session_cost_usd(conn),
        "alerts_firing": conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE status = 'firing'"
        ).fetchone()[0],
    }
