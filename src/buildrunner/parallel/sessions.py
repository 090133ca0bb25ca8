"""Sessions in the store: creation, lookup by id prefix, listing, control requests, liveness."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from buildrunner.errors import SessionError
from buildrunner.parallel.locks import owner_alive
from buildrunner.parallel.plan import Plan
from buildrunner.store.db import iso_utc, now, transaction

ACTIVE = ("pending", "running", "paused")
FINAL = ("completed", "failed", "cancelled", "interrupted")
TASK_FINAL = ("succeeded", "failed", "skipped", "cancelled")
CONTROL_ACTIONS = ("pause", "resume", "cancel")


@dataclass(frozen=True)
class SessionRow:
    id: str
    name: str
    status: str  # as stored by the owner
    plan_path: str | None
    backend: str
    workers: int
    budget_usd: str | None
    owner_pid: int | None
    owner_host: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    total_tasks: int
    error: str | None
    metadata: dict[str, Any]

    @property
    def workdir(self) -> str | None:
        value = self.metadata.get("workdir")
        return str(value) if value else None

    @property
    def owner_alive(self) -> bool:
        """Whether the owning process still runs (unknown hosts are assumed alive)."""
        return owner_alive(self.owner_pid, self.owner_host)

    @property
    def effective_status(self) -> str:
        """The stored status, or 'interrupted' when the owner of an active session is gone."""
        if self.status in ("running", "paused") and not self.owner_alive:
            return "interrupted"
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.effective_status,
            "backend": self.backend,
            "workers": self.workers,
            "owner_pid": self.owner_pid,
            "owner_host": self.owner_host,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "total_tasks": self.total_tasks,
            "error": self.error,
        }


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC text."""
    if ts is None:
        return None
    return iso_utc(ts)


def new_session_id() -> str:
    """Sortable, short and typeable: `20261125-134501-a1b2c3`."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def create_session(
    conn: sqlite3.Connection,
    plan: Plan,
    *,
    name: str | None = None,
    plan_path: str | None = None,
    workers: int = 1,
    backend: str = "local",
    budget_usd: float | None = None,
    workdir: str | None = None,
    session_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Insert a session and its tasks (status pending); return the session id."""
    session_id = session_id or new_session_id()
    meta = {**(metadata or {}), **({"workdir": workdir} if workdir else {})}
    stamp = now()
    budget = budget_usd if budget_usd is not None else plan.budget_usd
    with transaction(conn):
        conn.execute(
            "INSERT INTO sessions(id, name, plan_path, plan_json, status, backend, workers,"
            " budget_usd, owner_pid, owner_host, created_at, total_tasks, metadata)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                name or plan.name,
                plan_path,
                plan.to_json(),
                backend,
                workers,
                None if budget is None else str(budget),
                os.getpid(),
                socket.gethostname(),
                stamp,
                len(plan.tasks),
                json.dumps(meta),
            ),
        )
        conn.executemany(
            "INSERT INTO tasks(session_id, task_id, kind, spec_json, status, priority, position,"
            " max_retries) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
            [
                (
                    session_id,
                    task.id,
                    task.kind,
                    json.dumps(task.model_dump(mode="json", exclude_defaults=True)),
                    task.priority,
                    index,
                    task.retries,
                )
                for index, task in enumerate(plan.tasks)
            ],
        )
    return session_id


def _row(row: sqlite3.Row) -> SessionRow:
    return SessionRow(
        row["id"],
        row["name"],
        row["status"],
        row["plan_path"],
        row["backend"],
        row["workers"],
        row["budget_usd"],
        row["owner_pid"],
        row["owner_host"],
        row["created_at"],
        row["started_at"],
        row["ended_at"],
        row["total_tasks"],
        row["error"],
        json.loads(row["metadata"] or "{}"),
    )


def get_session(conn: sqlite3.Connection, session_ref: str | None = None) -> SessionRow:
    """A session by id or unique id prefix (or name); the newest one when `session_ref` is None."""
    if session_ref is None:
        row = conn.execute("SELECT * FROM sessions ORDER BY created_at DESC LIMIT 1").fetchone()
        if row is None:
            raise SessionError("no sessions yet: start one with 'br run PLAN'")
        return _row(row)
    rows = conn.execute(
        "SELECT * FROM sessions WHERE id = ? OR id LIKE ? ESCAPE '\\' OR name = ?"
        " ORDER BY created_at DESC LIMIT 20",
        (session_ref, _like_prefix(session_ref), session_ref),
    ).fetchall()
    exact = [row for row in rows if row["id"] == session_ref]
    if exact:
        return _row(exact[0])
    if not rows:
        raise SessionError(f"no session '{session_ref}' (see 'br parallel list')")
    by_id = [row for row in rows if row["id"].startswith(session_ref)]
    if len(by_id) == 1:
        return _row(by_id[0])
    if not by_id:
        return _row(rows[0])  # by name: the newest run of that name
    raise SessionError(
        f"session '{session_ref}' is ambiguous: {', '.join(row['id'] for row in by_id[:5])}"
    )


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_sessions(conn: sqlite3.Connection, status: str | None = None) -> list[SessionRow]:
    """All sessions, oldest first; `status` filters on the effective status."""
    rows = [_row(row) for row in conn.execute("SELECT * FROM sessions ORDER BY created_at")]
    if status is not None:
        rows = [row for row in rows if row.effective_status == status]
    return rows


def task_counts(conn: sqlite3.Connection, session_id: str) -> dict[str, int]:
    counts = dict.fromkeys(
        ("pending", "queued", "waiting", "running", "succeeded", "failed", "skipped", "cancelled"),
        0,
    )
    for row in conn.execute(
        "SELECT status, COUNT(*) AS n FROM tasks WHERE session_id = ? GROUP BY status",
        (session_id,),
    ):
        counts[row["status"]] = row["n"]
    return counts


def request_control(conn: sqlite3.Connection, session_id: str, action: str) -> None:
    """Ask the owner of a session to pause, resume or cancel it."""
    if action not in CONTROL_ACTIONS:
        raise SessionError(f"unknown action '{action}'")
    with transaction(conn):
        conn.execute(
            "INSERT INTO control_requests(session_id, action, created_at) VALUES (?, ?, ?)",
            (session_id, action, now()),
        )


def take_control_requests(conn: sqlite3.Connection, session_id: str) -> list[str]:
    """Pending actions for a session, oldest first, marked handled."""
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, action FROM control_requests WHERE session_id = ? AND handled_at IS NULL"
            " ORDER BY id",
            (session_id,),
        ).fetchall()
        if rows:
            conn.execute(
                "UPDATE control_requests SET handled_at = ? WHERE session_id = ?"
                " AND handled_at IS NULL",
                (now(), session_id),
            )
    return [row["action"] for row in rows]


def set_session_budget(conn: sqlite3.Connection, session_id: str, budget_usd: float) -> None:
    """Give a session a new hard budget (its owner checks it at the next reservation)."""
    with transaction(conn):
        conn.execute(
            "UPDATE sessions SET budget_usd = ? WHERE id = ?", (str(budget_usd), session_id)
        )
