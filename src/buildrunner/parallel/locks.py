"""File locks across sessions and processes: all-or-nothing, in one SQLite transaction.

A task's declared `files` become lock keys relative to the project root. A key ending in '/' is a
directory lock and covers everything under it; a glob locks the directory before its first wildcard.
Conflict detection uses only primary-key lookups and one range scan per directory key, never a scan
of all locks, and the primary key on `path` makes holding a path twice impossible.
"""

from __future__ import annotations

import os
import posixpath
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import PurePosixPath

from buildrunner.store.db import now, transaction

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class LockHolder:
    path: str
    session_id: str
    task_id: str
    owner_pid: int | None
    owner_host: str | None
    acquired_at: float


@dataclass(frozen=True)
class LockResult:
    acquired: bool
    conflict: LockHolder | None = None  # the first lock in the way, when not acquired


def lock_keys(files: Iterable[str]) -> list[str]:
    """Normalised lock keys for declared paths (sorted, without duplicates or covered paths)."""
    keys: set[str] = set()
    for raw in files:
        path = raw.replace("\\", "/").strip()
        wildcard = next((i for i, char in enumerate(path) if char in _GLOB_CHARS), None)
        is_dir = path.endswith("/")
        if wildcard is not None:
            path = path[:wildcard].rsplit("/", 1)[0] + "/" if "/" in path[:wildcard] else ""
            is_dir = True
        normal = posixpath.normpath(path) if path else "."
        if normal in (".", ""):
            keys.add("/")  # the whole project
            continue
        keys.add(normal + "/" if is_dir else normal)
    if "/" in keys:
        return ["/"]
    dirs = [key for key in keys if key.endswith("/")]
    return sorted(key for key in keys if not any(key != d and key.startswith(d) for d in dirs))


def _ancestors(key: str) -> list[str]:
    parts = PurePosixPath(key.rstrip("/")).parts
    return ["/"] + ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]


def _find_conflict(
    conn: sqlite3.Connection, key: str, session_id: str, task_id: str
) -> LockHolder | None:
    """A lock held by another task that overlaps `key` (same path, an ancestor dir, or inside)."""
    candidates = [key, *_ancestors(key)]
    if not key.endswith("/"):
        candidates.append(key + "/")
    placeholders = ",".join("?" * len(candidates))
    rows = conn.execute(
        f"SELECT * FROM locks WHERE path IN ({placeholders})", candidates
    ).fetchall()
    if key.endswith("/"):
        upper = key[:-1] + chr(ord("/") + 1)
        rows += conn.execute(
            "SELECT * FROM locks WHERE path > ? AND path < ? LIMIT 1",
            ("" if key == "/" else key, "\U0010ffff" if key == "/" else upper),
        ).fetchall()
    for row in rows:
        if (row["session_id"], row["task_id"]) != (session_id, task_id):
            return _holder(row)
    return None


def _holder(row: sqlite3.Row) -> LockHolder:
    return LockHolder(
        row["path"],
        row["session_id"],
        row["task_id"],
        row["owner_pid"],
        row["owner_host"],
        row["acquired_at"],
    )


def acquire_locks(
    conn: sqlite3.Connection,
    keys: Sequence[str],
    session_id: str,
    task_id: str,
    *,
    owner_pid: int | None = None,
    owner_host: str | None = None,
) -> LockResult:
    """Take every key or none. Locks whose owner process is dead (same host) are freed first."""
    if not keys:
        return LockResult(True)
    owner_pid = os.getpid() if owner_pid is None else owner_pid
    owner_host = owner_host or socket.gethostname()
    # inside the caller's write transaction (BEGIN IMMEDIATE holds the write lock) the check and
    # the insert are already atomic; otherwise open one
    with nullcontext() if conn.in_transaction else transaction(conn):
        for key in keys:
            holder = _find_conflict(conn, key, session_id, task_id)
            if holder is not None and _owner_dead(holder):
                conn.execute(
                    "DELETE FROM locks WHERE session_id = ? AND task_id = ?",
                    (holder.session_id, holder.task_id),
                )
                holder = _find_conflict(conn, key, session_id, task_id)
            if holder is not None:
                return LockResult(False, holder)
        stamp = now()
        conn.executemany(
            "INSERT OR IGNORE INTO locks(path, session_id, task_id, owner_pid, owner_host, acquired_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(key, session_id, task_id, owner_pid, owner_host, stamp) for key in keys],
        )
    return LockResult(True)


def release_locks(conn: sqlite3.Connection, session_id: str, task_id: str | None = None) -> int:
    """Release the locks of one task, or of a whole session when task_id is None.

    Inside the caller's open write transaction the delete joins it; otherwise it is its own.
    """
    with nullcontext() if conn.in_transaction else transaction(conn):
        if task_id is None:
            cursor = conn.execute("DELETE FROM locks WHERE session_id = ?", (session_id,))
        else:
            cursor = conn.execute(
                "DELETE FROM locks WHERE session_id = ? AND task_id = ?", (session_id, task_id)
            )
    return cursor.rowcount


def list_locks(conn: sqlite3.Connection, session_id: str | None = None) -> list[LockHolder]:
    if session_id is None:
        rows = conn.execute("SELECT * FROM locks ORDER BY acquired_at, path").fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM locks WHERE session_id = ? ORDER BY acquired_at, path", (session_id,)
        ).fetchall()
    return [_holder(row) for row in rows]


def _owner_dead(holder: LockHolder) -> bool:
    return holder.owner_pid is not None and not owner_alive(holder.owner_pid, holder.owner_host)


def owner_alive(pid: int | None, host: str | None) -> bool:
    """Whether a recorded owner process still runs (owners on other hosts are assumed alive)."""
    if pid is None:
        return False
    return host != socket.gethostname() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
