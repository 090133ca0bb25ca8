"""Review of a task's work before it merges: decisions in the store, and what a reviewer sees.

The build loop asks for a review (`request_review`: pending) and waits (`wait_for_decision`); a
person decides from any terminal (`decide`: approved, rejected, or retry: rejected with a reason
that goes back to the agent as a fix round). Like pause/cancel requests, decisions are rows
other processes write and the session's owner reads. Each step is also an event in the store
(`review_requested`, `review_decided`), written in the same transaction as the decision.

`review_details` gathers what `br review` shows for one task: its diff (masked), changed files,
conflicts, checks, cost and model.
"""

from __future__ import annotations

import getpass
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from buildrunner.errors import BuildRunnerError
from buildrunner.security.masking import mask_text
from buildrunner.store.db import iso_utc, transaction

REVIEW_STATES = ("pending", "approved", "rejected", "retry")
DECISIONS = ("approved", "rejected", "retry")
CHECK_EVENTS = ("check_passed", "check_failed")
Clock = Callable[[], float]


class ReviewError(BuildRunnerError):
    """A review that does not exist, or a decision that does not apply to it."""


@dataclass(frozen=True)
class Review:
    session_id: str
    task_id: str
    status: str  # pending | approved | rejected | retry
    round: int
    reason: str | None
    requested_at: float
    decided_at: float | None
    decided_by: str | None

    @property
    def waiting(self) -> bool:
        return self.status == "pending"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["requested_at"] = iso_utc(self.requested_at)
        data["decided_at"] = iso_utc(self.decided_at) if self.decided_at is not None else None
        return data


def _review(row: sqlite3.Row) -> Review:
    return Review(
        row["session_id"],
        row["task_id"],
        row["status"],
        row["round"],
        row["reason"],
        row["requested_at"],
        row["decided_at"],
        row["decided_by"],
    )


def _record_event(conn: sqlite3.Connection, event: Any) -> None:
    from buildrunner.telemetry.collector import INSERT_SQL, event_row

    conn.execute(INSERT_SQL, event_row(event))


def request_review(
    conn: sqlite3.Connection, session_id: str, task_id: str, *, clock: Clock = time.time
) -> Review:
    """Ask for a review of the task (by the session's owner). A task asked again after a retry
    starts its next round; asking again while it waits changes nothing."""
    from buildrunner.telemetry.events import ReviewRequested

    stamp = clock()
    with transaction(conn):
        current = get_review(conn, session_id, task_id)
        if current is not None and current.waiting:
            return current
        round_number = 1 if current is None else current.round + 1
        conn.execute(
            "INSERT INTO reviews(session_id, task_id, status, round, requested_at)"
            " VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (session_id, task_id) DO UPDATE SET"
            " status = 'pending', round = excluded.round, reason = NULL,"
            " requested_at = excluded.requested_at, decided_at = NULL, decided_by = NULL",
            (session_id, task_id, round_number, stamp),
        )
        _record_event(conn, ReviewRequested(session_id=session_id, task_id=task_id, ts=stamp))
    review = get_review(conn, session_id, task_id)
    assert review is not None
    return review


def decide(
    conn: sqlite3.Connection,
    session_id: str,
    task_id: str,
    decision: str,
    reason: str | None = None,
    *,
    clock: Clock = time.time,
    decided_by: str | None = None,
) -> Review:
    """Approve, reject or send back (retry) a task waiting for review."""
    from buildrunner.telemetry.events import ReviewDecided

    if decision not in DECISIONS:
        raise ReviewError(f"a decision is one of {', '.join(DECISIONS)}, not '{decision}'")
    reason = (reason or "").strip() or None
    if decision != "approved" and reason is None:
        raise ReviewError(
            'a rejection needs a reason (--reason "..."): the agent or the '
            "person who retries the task reads it"
        )
    masked = mask_text(reason) if reason else None
    stamp = clock()
    with transaction(conn):
        current = get_review(conn, session_id, task_id)
        if current is None:
            raise ReviewError(f"task '{task_id}' of session {session_id} was never sent for review")
        if not current.waiting:
            raise ReviewError(
                f"task '{task_id}' of session {session_id} is already "
                f"{current.status}; nothing to decide"
            )
        conn.execute(
            "UPDATE reviews SET status = ?, reason = ?, decided_at = ?, decided_by = ?"
            " WHERE session_id = ? AND task_id = ?",
            (decision, masked, stamp, decided_by or _who(), session_id, task_id),
        )
        _record_event(
            conn,
            ReviewDecided(
                session_id=session_id,
                task_id=task_id,
                ts=stamp,
                decision=decision,
                reason=masked or "",
            ),
        )
    review = get_review(conn, session_id, task_id)
    assert review is not None
    return review


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def get_review(conn: sqlite3.Connection, session_id: str, task_id: str) -> Review | None:
    row = conn.execute(
        "SELECT * FROM reviews WHERE session_id = ? AND task_id = ?", (session_id, task_id)
    ).fetchone()
    return None if row is None else _review(row)


def list_reviews(
    conn: sqlite3.Connection, session_id: str | None = None, status: str | None = None
) -> list[Review]:
    """Reviews of one session (or all), waiting ones first, then by when they were asked."""
    query, params = "SELECT * FROM reviews WHERE 1 = 1", []
    if session_id is not None:
        query += " AND session_id = ?"
        params.append(session_id)
    if status is not None:
        query += " AND status = ?"
        params.append(status)
    query += " ORDER BY status != 'pending', requested_at, task_id"
    return [_review(row) for row in conn.execute(query, params)]


def wait_for_decision(
    conn: sqlite3.Connection,
    session_id: str,
    task_id: str,
    timeout_s: float | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = time.monotonic,
    poll_s: float = 0.5,
) -> Review:
    """Poll until the task's review is decided (or `timeout_s` passes: it is then still pending)."""
    deadline = None if timeout_s is None else clock() + timeout_s
    while True:
        review = get_review(conn, session_id, task_id)
        if review is None:
            raise ReviewError(f"task '{task_id}' of session {session_id} was never sent for review")
        if not review.waiting or (deadline is not None and clock() >= deadline):
            return review
        sleep(poll_s)


def find_review(conn: sqlite3.Connection, task_id: str, session_id: str | None) -> Review:
    """The review a command means by TASK: in `session_id`, else the newest one still waiting
    (else the newest at all, so the error can say what became of it)."""
    query = "SELECT r.* FROM reviews r JOIN sessions s ON s.id = r.session_id WHERE r.task_id = ?"
    params: list[Any] = [task_id]
    if session_id is not None:
        query += " AND r.session_id = ?"
        params.append(session_id)
    rows = conn.execute(
        query + " ORDER BY r.status != 'pending', s.created_at DESC", params
    ).fetchall()
    if not rows:
        where = f"session {session_id}" if session_id else "any session"
        raise ReviewError(f"no review of task '{task_id}' in {where} (see 'br review')")
    return _review(rows[0])


def review_details(
    conn: sqlite3.Connection, data_dir: Path, repo: Path | None, session_id: str, task_id: str
) -> dict[str, Any]:
    """What a reviewer sees for one task: its review (None if it was never sent for one), its
    change (masked) with any conflict, checks, cost and model."""
    task = conn.execute(
        "SELECT status, model, attempts, cost_micro_usd FROM tasks"
        " WHERE session_id = ? AND task_id = ?",
        (session_id, task_id),
    ).fetchone()
    review = get_review(conn, session_id, task_id)
    change = isolated_change(data_dir, repo, session_id, task_id)
    if task is None and review is None and not change["isolated"]:
        raise ReviewError(f"no task '{task_id}' in session {session_id}")
    cost = conn.execute(
        "SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs WHERE session_id = ? AND task_id = ?",
        (session_id, task_id),
    ).fetchone()[0]
    asked = (
        review.to_json()
        if review is not None
        else dict.fromkeys(("round", "reason", "requested_at", "decided_at", "decided_by"))
    )
    asked.pop("status", None)
    return (
        asked
        | {
            "session_id": session_id,
            "task_id": task_id,
            "review_status": review.status if review is not None else None,
            "task_status": task["status"] if task else None,
            "model": task["model"] if task else None,
            "attempts": task["attempts"] if task else 0,
            "cost_usd": max(cost, task["cost_micro_usd"] if task else 0) / 1_000_000,
            "checks": task_checks(conn, session_id, task_id),
        }
        | change
    )


def task_checks(conn: sqlite3.Connection, session_id: str, task_id: str) -> list[dict[str, Any]]:
    """Each check run of the task, in order: command, passed, exit code, rung and round."""
    import json

    placeholders = ",".join("?" * len(CHECK_EVENTS))
    rows = conn.execute(
        f"SELECT type, ts, duration_ms, payload FROM events WHERE session_id = ? AND task_id = ?"
        f" AND type IN ({placeholders}) ORDER BY ts, id",
        (session_id, task_id, *CHECK_EVENTS),
    ).fetchall()
    checks = []
    for row in rows:
        payload = json.loads(row["payload"] or "{}")
        checks.append(
            {
                "command": payload.get("command", ""),
                "passed": row["type"] == "check_passed",
                "exit_code": payload.get("exit_code"),
                "duration_ms": row["duration_ms"],
                "rung": payload.get("rung"),
                "round": payload.get("round"),
                "model": payload.get("model"),
                "output_tail": payload.get("output_tail", ""),
            }
        )
    return checks


def isolated_tasks(data_dir: Path, repo: Path | None, session_id: str) -> list[dict[str, Any]]:
    """The session's isolated tasks with work on their branch (state, files, conflicts)."""
    from buildrunner.build.isolation_state import load_state, session_dir

    if repo is None or not session_dir(data_dir, session_id).is_dir():
        return []
    state = load_state(data_dir, session_id, repo)
    return [
        {
            "task_id": record.task_id,
            "state": record.state,
            "branch": record.branch,
            "files": record.files,
            "conflicts": record.conflicts,
            "kept": record.kept,
        }
        for record in state.tasks.values()
        if record.commit is not None
    ]


def isolated_change(
    data_dir: Path, repo: Path | None, session_id: str, task_id: str
) -> dict[str, Any]:
    """The task's change from the session's isolation journal: diff (masked), files, conflicts."""
    empty: dict[str, Any] = {
        "isolated": False,
        "branch": None,
        "state": None,
        "files": [],
        "diff": None,
        "conflicts": [],
        "hunks": [],
    }
    from buildrunner.build.isolation_state import session_dir

    if repo is None or not (session_dir(data_dir, session_id)).is_dir():
        return empty
    from buildrunner.build.git import IsolationError
    from buildrunner.build.isolation import Isolation

    try:
        isolation = Isolation(repo, data_dir, session_id)
        record = isolation.state.tasks.get(task_id)
        if record is None:
            return empty
        hunks = [hunk.to_json() for hunk in isolation.conflict_hunks(task_id)]
        diff = isolation.diff(task_id)
    except IsolationError as exc:
        return empty | {"error": str(exc)}
    for hunk in hunks:
        for side in ("ours", "theirs", "base", "message"):
            hunk[side] = mask_text(hunk[side]) if hunk[side] else hunk[side]
    return {
        "isolated": True,
        "branch": record.branch,
        "state": record.state,
        "files": record.files,
        "diff": mask_text(diff),
        "conflicts": record.conflicts,
        "hunks": hunks,
    }
