"""The dashboard's snapshot (computed from a real store) and its Rich rendering."""

from __future__ import annotations

import io
import os
import sqlite3
import threading

import pytest
from rich.console import Console

from buildrunner.errors import SessionError
from buildrunner.parallel.backends import WorkerInfo
from buildrunner.parallel.dashboard import (
    duration_text,
    live_frames,
    render,
    render_status,
    watch_while,
)
from buildrunner.parallel.locks import acquire_locks
from buildrunner.parallel.plan import parse_plan
from buildrunner.parallel.recorder import SessionRecorder
from buildrunner.parallel.sessions import create_session
from buildrunner.parallel.snapshot import snapshot, summary
from buildrunner.store.db import Store, transaction
from tests.parallel.conftest import dead_pid

T0 = 1_800_000_000.0
PLAN = """
name: shop
tasks:
  - id: build
    run: make
    files: [src/app.py]
  - id: docs
    run: make docs
    files: [src/app.py]
  - id: lint
    run: ruff
  - id: tests
    run: pytest
    priority: 5
  - id: package
    run: zip
    depends_on: [build]
"""


def text_of(renderable: object, width: int = 160) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def start_session(conn: sqlite3.Connection, plan: str = PLAN, name: str | None = None) -> str:
    session_id = create_session(conn, parse_plan(plan), name=name, workers=2)
    SessionRecorder(conn, session_id).take_ownership()
    return session_id


def mid_build(conn: sqlite3.Connection) -> str:
    """A session caught mid-build: one task running, one waiting, one failed, one done."""
    session_id = start_session(conn)
    recorder = SessionRecorder(conn, session_id)
    recorder.add_worker(WorkerInfo("w1", os.getpid(), os.uname().nodename))
    recorder.add_worker(WorkerInfo("w2", dead_pid(), os.uname().nodename))
    assert acquire_locks(conn, ["src/app.py"], session_id, "build").acquired
    with transaction(conn):
        recorder.set_task("build", status="running", attempts=2, worker_id="w1", started_at=T0 - 90)
        recorder.set_worker("w1", status="busy", current_task="build", last_heartbeat=T0 - 1.5)
        recorder.set_worker("w2", status="busy", current_task="x", last_heartbeat=T0 - 40)
        recorder.set_task(
            "docs", status="waiting", waiting_on="src/app.py held by task 'build' of this session"
        )
        recorder.set_task(
            "lint",
            status="failed",
            attempts=1,
            exit_code=3,
            error="exit code 3",
            log_path=".buildrunner/logs/x/lint.1.log",
            duration_s=1.25,
            ended_at=T0 - 5,
        )
        recorder.set_task("tests", status="succeeded", attempts=1, duration_s=4.0, ended_at=T0 - 2)
        conn.executemany(
            "INSERT INTO costs(ts, session_id, task_id, model, cost_micro_usd) VALUES (?, ?, ?, ?, ?)",
            [
                (T0, session_id, "build", "m", 1_250_000),
                (T0, session_id, "build", "m", 250_000),
                (T0, "another-session", "x", "m", 9_000_000),
            ],
        )
        conn.executemany(
            "INSERT INTO alerts(threshold, level, status, message, fired_at) VALUES (?, ?, ?, ?, ?)",
            [
                ("error_rate", "critical", "firing", "error rate 40% > 20%", T0 - 10),
                ("latency", "warning", "resolved", "old news", T0 - 100),
            ],
        )
    return session_id


def test_snapshot_with_no_sessions_is_empty_and_renders_a_hint(conn: sqlite3.Connection) -> None:
    data = snapshot(conn, clock=lambda: T0)
    assert data["session"] is None
    assert data["sessions"] == [] and data["running"] == [] and data["cost_usd"] == 0.0
    assert "no sessions yet" in text_of(render(data))


def test_snapshot_of_a_build_in_progress(conn: sqlite3.Connection) -> None:
    session_id = mid_build(conn)
    data = snapshot(conn, None, clock=lambda: T0)
    session = data["session"]
    assert session["id"] == session_id and session["status"] == "running"
    assert session["tasks"]["total"] == 5
    assert (session["tasks"]["running"], session["tasks"]["waiting"]) == (1, 1)
    assert session["progress"] == 40.0  # lint failed + tests succeeded of 5
    assert data["running"] == [
        {"task_id": "build", "worker_id": "w1", "attempt": 2, "elapsed_s": 90.0}
    ]
    assert data["waiting"] == [
        {"task_id": "docs", "waiting_on": "src/app.py held by task 'build' of this session"}
    ]
    assert data["failed"] == [
        {
            "task_id": "lint",
            "exit_code": 3,
            "error": "exit code 3",
            "log_path": ".buildrunner/logs/x/lint.1.log",
        }
    ]
    assert [item["task_id"] for item in data["queued"]] == ["package"]
    assert [item["task_id"] for item in data["done"]] == ["tests", "lint"]  # newest first
    workers = {worker["id"]: worker for worker in data["workers"]}
    assert workers["w1"]["status"] == "busy" and workers["w1"]["heartbeat_age_s"] == 1.5
    assert workers["w2"]["status"] == "offline"  # recorded busy, but its process is gone
    assert [(lock["path"], lock["task_id"], lock["owner_alive"]) for lock in data["locks"]] == [
        ("src/app.py", "build", True)
    ]
    assert data["cost_usd"] == 1.5  # only this session's costs
    assert [alert["threshold"] for alert in data["alerts"]] == ["error_rate"]


def test_render_shows_every_part_of_the_snapshot(conn: sqlite3.Connection) -> None:
    mid_build(conn)
    text = text_of(render(snapshot(conn, clock=lambda: T0)))
    for expected in (
        "shop",
        "running",
        "w1",
        "1m30s",
        "waiting",
        "held by task 'build'",
        "src/app.py",
        "offline",
        "exit code 3",
        "lint.1.log",
        "$1.5000",
        "error rate 40% > 20%",
        "2/5 (40%)",
    ):
        assert expected in text, expected
    status_text = text_of(render_status(snapshot(conn, clock=lambda: T0)))
    for expected in ("build", "w1", "docs", "held by task", "lint", "exit code 3", "src/app.py"):
        assert expected in status_text


def test_session_with_dead_owner_is_interrupted_with_resume_hint(conn: sqlite3.Connection) -> None:
    session_id = start_session(conn)
    conn.execute("UPDATE sessions SET owner_pid = ? WHERE id = ?", (dead_pid(), session_id))
    session = snapshot(conn, session_id[:12])["session"]
    assert session["status"] == "interrupted" and session["stored_status"] == "running"
    assert session["resume_hint"] == f"br parallel resume {session_id}"
    assert f"br parallel resume {session_id}" in text_of(render(snapshot(conn, session_id)))
    assert snapshot(conn)["sessions"] == []  # not active any more


def test_snapshot_follows_the_newest_session_and_lists_active_ones(
    conn: sqlite3.Connection,
) -> None:
    first = start_session(conn, name="first")
    conn.execute("UPDATE sessions SET created_at = created_at - 10 WHERE id = ?", (first,))
    second = start_session(conn, name="second")
    data = snapshot(conn)
    assert data["session"]["id"] == second
    assert [item["id"] for item in data["sessions"]] == [first, second]
    assert snapshot(conn, "first")["session"]["id"] == first
    assert "active sessions" in text_of(render(data))
    with pytest.raises(SessionError):
        snapshot(conn, "no-such-session")


def test_summary_counts_across_sessions(conn: sqlite3.Connection) -> None:
    mid_build(conn)
    finished = start_session(conn, "name: done\ntasks:\n  - id: a\n    run: 'true'\n")
    SessionRecorder(conn, finished).set_session_status("completed", ended=True)
    data = summary(conn, clock=lambda: T0)
    assert data["sessions"]["total"] == 2
    assert data["sessions"]["by_status"]["running"] == 1
    assert data["sessions"]["by_status"]["completed"] == 1
    assert data["tasks"]["failed"] == 1 and data["tasks"]["pending"] == 2
    assert data["workers"]["by_status"]["busy"] == 1
    assert data["workers"]["by_status"]["offline"] == 1
    assert data["workers"]["utilization"] == 100.0
    assert data["locks_held"] == 1 and data["alerts_firing"] == 1
    assert data["cost_usd"] == 10.5


def test_watch_while_returns_the_build_result_and_stops_its_thread(
    store: Store, conn: sqlite3.Connection
) -> None:
    session_id = start_session(conn)
    output = io.StringIO()

    def build() -> str:
        with transaction(conn):
            SessionRecorder(conn, session_id).set_task("lint", status="succeeded")
        SessionRecorder(conn, session_id).set_session_status("completed", ended=True)
        return "built"

    console = Console(file=output, width=120, color_system=None)
    assert watch_while(store, session_id, build, refresh_s=0.05, console=console) == "built"
    assert not any(thread.name == "br-dashboard" for thread in threading.enumerate())
    assert "completed" in output.getvalue()  # the last frame shows the final state


def test_watch_while_passes_the_build_error_through(store: Store, conn: sqlite3.Connection) -> None:
    session_id = start_session(conn)

    def broken() -> None:
        raise RuntimeError("build broke")

    console = Console(file=io.StringIO(), width=120)
    with pytest.raises(RuntimeError, match="build broke"):
        watch_while(store, session_id, broken, refresh_s=0.05, console=console)
    assert not any(thread.name == "br-dashboard" for thread in threading.enumerate())


def test_live_frames_stops_on_event(store: Store, conn: sqlite3.Connection) -> None:
    start_session(conn)
    stop = threading.Event()
    stop.set()
    output = io.StringIO()
    live_frames(store, None, Console(file=output, width=120), refresh_s=10, stop=stop)
    assert "shop" in output.getvalue()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.04, "0.0s"), (4.31, "4.3s"), (65, "1m05s"), (3600 + 7 * 60, "1h07m")],
)
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text
