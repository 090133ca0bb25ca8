"""Controlling sessions from any terminal: pause, resume, cancel, and cleaning up old sessions.

A session's rows belong to its owner process, so pause/resume/cancel of a live session are
*requests* (control_requests rows) that the owner acts on within about half a second. Only when
the owner is gone may another process write the session: cancelling an interrupted session and
deleting finished ones.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildrunner.errors import SessionError
from buildrunner.parallel.sessions import (
    FINAL,
    TASK_FINAL,
    SessionRow,
    get_session,
    list_sessions,
    request_control,
)
from buildrunner.parallel.snapshot import session_state
from buildrunner.store.db import Store, now, transaction

# the states (as shown, see session_state) in which a request makes sense, and the state it leads to
APPLIES_IN = {
    "pause": ("pending", "running"),
    "resume": ("paused",),
    "cancel": ("pending", "running", "paused"),
}
LEADS_TO = {"pause": ("paused",), "resume": ("running",), "cancel": FINAL}


@dataclass
class ControlResult:
    session_id: str
    action: str
    requested: bool  # a request was queued for the owner
    reached: bool  # the session got to the state the action leads to (within the wait)
    status: str  # the session's status at the end

    def to_json(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "action": self.action,
            "requested": self.requested,
            "reached": self.reached,
            "status": self.status,
        }


def check_control(row: SessionRow, action: str) -> None:
    """Raise SessionError, saying why, when `action` does not apply to the session now."""
    state = session_state(row)
    if state in APPLIES_IN[action]:
        return
    name = f"session {row.id}"
    if state == "interrupted":
        raise SessionError(
            f"{name} is interrupted (its owner process is gone); continue it with "
            f"'br parallel resume {row.id}'"
        )
    if action == "pause" and state == "paused":
        raise SessionError(f"{name} is already paused")
    if action == "resume" and state in ("pending", "running"):
        raise SessionError(f"{name} is {state}, not paused; nothing to resume")
    if state in FINAL:
        raise SessionError(f"{name} already {state}; there is nothing to {action}")
    raise SessionError(f"{name} is {state}; cannot {action} it")


def send_control(conn: sqlite3.Connection, session_ref: str, action: str) -> SessionRow:
    """Queue `action` for the owner of a live session (after checking that it applies)."""
    row = get_session(conn, session_ref)
    check_control(row, action)
    request_control(conn, row.id, action)
    return row


def wait_for_state(
    conn: sqlite3.Connection,
    session_id: str,
    targets: tuple[str, ...],
    timeout_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[bool, str]:
    """Poll the store until the session's status is one of `targets`; (reached, last status)."""
    deadline = clock() + timeout_s
    while True:
        state = session_state(get_session(conn, session_id))
        if state in targets:
            return True, state
        if clock() >= deadline:
            return False, state
        sleep(0.1)


def control_session(
    conn: sqlite3.Connection,
    session_ref: str,
    action: str,
    *,
    wait_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ControlResult:
    """Ask the owner to pause, resume or cancel a session and wait up to `wait_s` for the effect."""
    row = send_control(conn, session_ref, action)
    reached, status = wait_for_state(conn, row.id, LEADS_TO[action], wait_s, sleep=sleep)
    return ControlResult(row.id, action, True, reached, status)


def cancel_orphan(conn: sqlite3.Connection, row: SessionRow) -> ControlResult:
    """Cancel an interrupted session (its owner is gone): mark it and its open tasks cancelled."""
    if session_state(row) != "interrupted":
        raise SessionError(f"session {row.id} is {session_state(row)}, not interrupted")
    stamp = now()
    placeholders = ",".join("?" * len(TASK_FINAL))
    with transaction(conn):
        conn.execute(
            "UPDATE sessions SET status = 'cancelled', ended_at = ?,"
            " error = COALESCE(error, 'cancelled while interrupted') WHERE id = ?",
            (stamp, row.id),
        )
        conn.execute(
            f"UPDATE tasks SET status = 'cancelled', worker_id = NULL, waiting_on = NULL,"
            f" error = 'session cancelled' WHERE session_id = ? AND status NOT IN ({placeholders})",
            (row.id, *TASK_FINAL),
        )
        conn.execute(
            "UPDATE attempts SET status = 'lost', ended_at = ?, error = 'owner gone'"
            " WHERE session_id = ? AND status = 'running'",
            (stamp, row.id),
        )
        conn.execute(
            "UPDATE workers SET status = 'offline', current_task = NULL"
            " WHERE session_id = ? AND status IN ('idle', 'busy')",
            (row.id,),
        )
        conn.execute("DELETE FROM locks WHERE session_id = ?", (row.id,))
    return ControlResult(row.id, "cancel", False, True, "cancelled")


# -- cleanup ---------------------------------------------------------------------------------
@dataclass
class CleanupResult:
    sessions: list[dict[str, Any]] = field(default_factory=list)
    logs_removed: int = 0
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "deleted": len(self.sessions),
            "sessions": self.sessions,
            "logs_removed": self.logs_removed,
        }


def finished_before(conn: sqlite3.Connection, cutoff: float) -> list[SessionRow]:
    """Finished sessions (never one whose owner still runs it) that ended before `cutoff`."""
    result = []
    for row in list_sessions(conn):
        if session_state(row) not in FINAL:
            continue
        if row.status not in FINAL and row.owner_alive:
            continue  # paranoia: a live owner always wins
        ended = row.ended_at or row.started_at or row.created_at
        if ended < cutoff:
            result.append(row)
    return result


def cleanup_sessions(
    conn: sqlite3.Connection,
    store: Store,
    *,
    older_than_days: float,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> CleanupResult:
    """Delete finished sessions older than the cutoff with their tasks, attempts, workers and logs.

    Events and costs stay: they are history that telemetry retention and cost reports own.
    """
    rows = finished_before(conn, clock() - older_than_days * 86400)
    result = CleanupResult(dry_run=dry_run)
    for row in rows:
        log_dir = _log_dir(store, row.id)
        result.sessions.append(
            {
                "id": row.id,
                "name": row.name,
                "status": session_state(row),
                "log_dir": str(log_dir) if log_dir is not None and log_dir.exists() else None,
            }
        )
        if dry_run:
            continue
        with transaction(conn):
            conn.execute("DELETE FROM locks WHERE session_id = ?", (row.id,))
            conn.execute("DELETE FROM control_requests WHERE session_id = ?", (row.id,))
            conn.execute("DELETE FROM sessions WHERE id = ?", (row.id,))  # cascades to the rest
        if log_dir is not None and log_dir.exists():
            shutil.rmtree(log_dir, ignore_errors=True)
            result.logs_removed += 1
    return result


def _log_dir(store: Store, session_id: str) -> Path | None:
    """The session's log folder, only if it really lies inside `.buildrunner/logs/`."""
    logs = store.logs_dir.resolve()
    candidate = (logs / session_id).resolve()
    return candidate if candidate.parent == logs else None
