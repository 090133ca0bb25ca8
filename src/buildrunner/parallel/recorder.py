"""Writes a running session's rows (session, tasks, attempts, workers). Only the owner calls it."""

from __future__ import annotations

import os
import socket
import sqlite3
from contextlib import AbstractContextManager, nullcontext

from buildrunner.parallel.backends import WorkerInfo
from buildrunner.parallel.protocol import TaskOutcome
from buildrunner.store.db import now, transaction

# Columns set_task/set_worker may write: field names become SQL, so they come from this list only.
TASK_COLUMNS = (
    "status",
    "priority",
    "attempts",
    "max_retries",
    "worker_id",
    "exit_code",
    "started_at",
    "ended_at",
    "duration_s",
    "log_path",
    "model",
    "cost_micro_usd",
    "waiting_on",
    "error",
    "verdict",
    "rung",
    "fix_rounds",
    "cache_key",
    "cached",
)
WORKER_COLUMNS = (
    "pid",
    "host",
    "status",
    "last_heartbeat",
    "current_task",
    "tasks_completed",
    "tasks_failed",
)


class SessionRecorder:
    def __init__(self, conn: sqlite3.Connection, session_id: str) -> None:
        self.conn = conn
        self.session_id = session_id

    def take_ownership(self, status: str = "running") -> None:
        with self._write():
            self.conn.execute(
                "UPDATE sessions SET status = ?, owner_pid = ?, owner_host = ?,"
                " started_at = COALESCE(started_at, ?), ended_at = NULL, error = NULL WHERE id = ?",
                (status, os.getpid(), socket.gethostname(), now(), self.session_id),
            )

    def set_session_status(
        self, status: str, *, ended: bool = False, error: str | None = None
    ) -> None:
        with self._write():
            self.conn.execute(
                "UPDATE sessions SET status = ?, ended_at = CASE WHEN ? THEN ? ELSE ended_at END,"
                " error = COALESCE(?, error) WHERE id = ?",
                (status, ended, now(), error, self.session_id),
            )

    def set_task(self, task_id: str, **fields: object) -> None:
        """Update columns of one task row (call inside a transaction for batching)."""
        columns, values = _assignments(fields, TASK_COLUMNS)
        self.conn.execute(
            f"UPDATE tasks SET {columns} WHERE session_id = ? AND task_id = ?",
            (*values, self.session_id, task_id),
        )

    def start_attempt(self, task_id: str, attempt: int, worker_id: str, started_at: float) -> None:
        self.conn.execute(
            "INSERT INTO attempts(session_id, task_id, attempt, worker_id, status, started_at)"
            " VALUES (?, ?, ?, ?, 'running', ?)",
            (self.session_id, task_id, attempt, worker_id, started_at),
        )

    def end_attempt(self, outcome: TaskOutcome, ended_at: float) -> None:
        self.conn.execute(
            "UPDATE attempts SET status = ?, ended_at = ?, exit_code = ?, error = ?, cpu_s = ?,"
            " max_rss_mb = ? WHERE session_id = ? AND task_id = ? AND attempt = ?",
            (
                outcome.status,
                ended_at,
                outcome.exit_code,
                outcome.error,
                outcome.cpu_s,
                outcome.max_rss_mb,
                self.session_id,
                outcome.task_id,
                outcome.attempt,
            ),
        )

    def lose_attempt(self, task_id: str, attempt: int, reason: str) -> None:
        self.conn.execute(
            "UPDATE attempts SET status = 'lost', ended_at = ?, error = ? WHERE session_id = ?"
            " AND task_id = ? AND attempt = ? AND status = 'running'",
            (now(), reason, self.session_id, task_id, attempt),
        )

    def _write(self) -> AbstractContextManager[object]:
        """The caller's open write transaction, or a new one."""
        return nullcontext() if self.conn.in_transaction else transaction(self.conn)

    def add_worker(self, info: WorkerInfo) -> None:
        with self._write():
            self.conn.execute(
                "INSERT OR REPLACE INTO workers(id, session_id, pid, host, status, started_at,"
                " last_heartbeat) VALUES (?, ?, ?, ?, 'idle', ?, ?)",
                (info.worker_id, self.session_id, info.pid, info.host, now(), now()),
            )

    def set_worker(self, worker_id: str, **fields: object) -> None:
        columns, values = _assignments(fields, WORKER_COLUMNS)
        self.conn.execute(f"UPDATE workers SET {columns} WHERE id = ?", (*values, worker_id))

    def count_worker_result(self, worker_id: str, succeeded: bool) -> None:
        column = "tasks_completed" if succeeded else "tasks_failed"
        self.conn.execute(
            f"UPDATE workers SET {column} = {column} + 1, status = 'idle', current_task = NULL,"
            " last_heartbeat = ? WHERE id = ?",
            (now(), worker_id),
        )

    def heartbeats(self, beats: dict[str, float]) -> None:
        if beats:
            self.conn.executemany(
                "UPDATE workers SET last_heartbeat = ? WHERE id = ?",
                [(ts, worker_id) for worker_id, ts in beats.items()],
            )

    def stop_workers(self) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE workers SET status = 'stopped', current_task = NULL"
                " WHERE session_id = ? AND status != 'offline'",
                (self.session_id,),
            )

    def lose_running_attempts(self, reason: str) -> None:
        """On resume: attempts still marked running belonged to a dead orchestrator."""
        with self._write():
            self.conn.execute(
                "UPDATE attempts SET status = 'lost', ended_at = ?, error = ?"
                " WHERE session_id = ? AND status = 'running'",
                (now(), reason, self.session_id),
            )
            self.conn.execute(
                "UPDATE workers SET status = 'offline' WHERE session_id = ? AND status != 'stopped'",
                (self.session_id,),
            )


def _assignments(fields: dict[str, object], allowed: tuple[str, ...]) -> tuple[str, list[object]]:
    """`"a = ?, b = ?"` and the values, for the fields named in `allowed` (others are refused)."""
    unknown = fields.keys() - set(allowed)
    if unknown:
        raise ValueError(f"not a writable column: {', '.join(sorted(unknown))}")
    names = [name for name in allowed if name in fields]
    return ", ".join(f"{name} = ?" for name in names), [fields[name] for name in names]
