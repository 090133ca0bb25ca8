"""Session control from another process: when pause/resume/cancel apply, orphan cancel, cleanup."""

from __future__ import annotations

import sqlite3

import pytest

from buildrunner.errors import SessionError
from buildrunner.parallel.control import (
    cancel_orphan,
    check_control,
    cleanup_sessions,
    control_session,
    wait_for_state,
)
from buildrunner.parallel.locks import acquire_locks
from buildrunner.parallel.plan import parse_plan
from buildrunner.parallel.recorder import SessionRecorder
from buildrunner.parallel.sessions import create_session, get_session
from buildrunner.store.db import Store, transaction
from tests.parallel.conftest import dead_pid

PLAN = "name: p\ntasks:\n  - id: a\n    run: 'true'\n  - id: b\n    run: 'true'\n"
DAY = 86400.0


def session_in(conn: sqlite3.Connection, status: str, *, owner_alive: bool = True) -> str:
    session_id = create_session(conn, parse_plan(PLAN))
    recorder = SessionRecorder(conn, session_id)
    recorder.take_ownership()
    recorder.set_session_status(status, ended=status not in ("running", "paused"))
    if not owner_alive:
        conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (dead_pid(), session_id))
    return session_id


@pytest.mark.parametrize(
    ("status", "alive", "action", "message"),
    [
        ("completed", True, "pause", "already completed"),
        ("paused", True, "pause", "already paused"),
        ("running", True, "resume", "not paused"),
        ("cancelled", True, "cancel", "already cancelled"),
        ("running", False, "pause", "br parallel resume"),
    ],
)
def test_control_refused_with_a_reason(
    conn: sqlite3.Connection, status: str, alive: bool, action: str, message: str
) -> None:
    row = get_session(conn, session_in(conn, status, owner_alive=alive))
    with pytest.raises(SessionError, match=message):
        check_control(row, action)


@pytest.mark.parametrize(
    ("status", "action"),
    [("running", "pause"), ("paused", "resume"), ("running", "cancel"), ("paused", "cancel")],
)
def test_control_applies(conn: sqlite3.Connection, status: str, action: str) -> None:
    check_control(get_session(conn, session_in(conn, status)), action)


def test_control_request_is_queued_and_wait_gives_up(conn: sqlite3.Connection) -> None:
    session_id = session_in(conn, "running")
    slept: list[float] = []
    result = control_session(conn, session_id[:10], "pause", wait_s=0, sleep=slept.append)
    assert (result.requested, result.reached, result.status) == (True, False, "running")
    pending = conn.execute(
        "SELECT action FROM control_requests WHERE session_id = ? AND handled_at IS NULL",
        (session_id,),
    ).fetchall()
    assert [row[0] for row in pending] == ["pause"]


def test_wait_for_state_sees_the_owner_act(conn: sqlite3.Connection) -> None:
    session_id = session_in(conn, "running")
    calls: list[float] = []

    def owner_acts(seconds: float) -> None:  # the "sleep" is where the owner gets to run
        calls.append(seconds)
        SessionRecorder(conn, session_id).set_session_status("paused")

    assert wait_for_state(conn, session_id, ("paused",), 60, sleep=owner_acts) == (True, "paused")
    assert len(calls) == 1


def test_cancel_orphan_marks_open_tasks_and_frees_locks(conn: sqlite3.Connection) -> None:
    session_id = session_in(conn, "running", owner_alive=False)
    recorder = SessionRecorder(conn, session_id)
    with transaction(conn):
        recorder.set_task("a", status="succeeded")
        recorder.set_task("b", status="running")
    conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (dead_pid(), session_id))
    acquire_locks(conn, ["out.txt"], session_id, "b", owner_pid=dead_pid())
    result = cancel_orphan(conn, get_session(conn, session_id))
    assert result.status == "cancelled"
    assert get_session(conn, session_id).status == "cancelled"
    statuses = dict(
        conn.execute(
            "SELECT task_id, status FROM tasks WHERE session_id = ?", (session_id,)
        ).fetchall()
    )
    assert statuses == {"a": "succeeded", "b": "cancelled"}
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    with pytest.raises(SessionError, match="not interrupted"):
        cancel_orphan(conn, get_session(conn, session_in(conn, "running")))


def test_cleanup_deletes_old_finished_sessions_with_rows_and_logs(
    store: Store, conn: sqlite3.Connection
) -> None:
    old = session_in(conn, "completed")
    recent = session_in(conn, "failed")
    running = session_in(conn, "running")
    orphan = session_in(conn, "running", owner_alive=False)
    recorder = SessionRecorder(conn, old)
    with transaction(conn):
        recorder.start_attempt("a", 1, "w1", 1.0)
        conn.execute(
            "INSERT INTO workers(id, session_id, status, started_at, last_heartbeat)"
            " VALUES ('w1', ?, 'stopped', 1, 1)",
            (old,),
        )
    (store.logs_dir / old).mkdir(parents=True)
    (store.logs_dir / old / "a.1.log").write_text("output")
    stamp = conn.execute("SELECT created_at FROM sessions WHERE id = ?", (old,)).fetchone()[0]
    conn.execute(
        "UPDATE sessions SET ended_at = ? WHERE id IN (?, ?)", (stamp - 30 * DAY, old, orphan)
    )
    conn.execute(
        "UPDATE sessions SET started_at = ?, created_at = ? WHERE id IN (?, ?)",
        (stamp - 30 * DAY, stamp - 30 * DAY, running, orphan),
    )
    now = lambda: stamp  # noqa: E731

    dry = cleanup_sessions(conn, store, older_than_days=7, dry_run=True, clock=now)
    assert sorted(item["id"] for item in dry.sessions) == sorted([old, orphan])
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 4
    assert (store.logs_dir / old).exists()

    done = cleanup_sessions(conn, store, older_than_days=7, clock=now)
    assert done.to_json()["deleted"] == 2 and done.logs_removed == 1
    left = {row[0] for row in conn.execute("SELECT id FROM sessions")}
    assert left == {recent, running}  # too new / its owner still runs it
    for table in ("tasks", "attempts", "workers"):
        count = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (old,))
        assert count.fetchone()[0] == 0, table
    assert not (store.logs_dir / old).exists()
    everything = cleanup_sessions(conn, store, older_than_days=0, clock=lambda: stamp + 1)
    assert [item["id"] for item in everything.sessions] == [recent]
