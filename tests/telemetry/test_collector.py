"""The batched collector against real SQLite files: batching, listeners, filters, failures, exit."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from buildrunner.config import TelemetrySettings
from buildrunner.store.db import connect
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import Collector
from buildrunner.telemetry.events import Event

SLOW = TelemetrySettings(batch_size=1000, flush_interval_s=3600)


def count(db_path: Path, where: str = "1=1") -> int:
    conn = connect(db_path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM events WHERE {where}").fetchone()[0])
    finally:
        conn.close()


def wait_until(predicate: object, deadline_s: float = 20.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_emit_buffers_until_flush(db_path: Path) -> None:
    with Collector(db_path, SLOW) as collector:
        for attempt in range(5):
            collector.emit(ev.TaskStarted(session_id="s", task_id="t", attempt=attempt))
        assert collector.pending() == 5
        assert count(db_path) == 0
        assert collector.flush() == 5
        assert collector.pending() == 0
    assert count(db_path, "type = 'task_started' AND session_id = 's'") == 5


def test_background_thread_flushes_when_a_batch_is_full(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=10, flush_interval_s=3600)
    with Collector(db_path, settings) as collector:
        for _ in range(25):
            collector.emit(ev.TaskQueued(kind="command"))
        assert wait_until(lambda: count(db_path) >= 20)
        assert collector.pending() <= 5
    assert count(db_path) == 25


def test_background_thread_flushes_on_interval(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=1000, flush_interval_s=0.05)
    with Collector(db_path, settings) as collector:
        collector.emit(ev.TaskQueued())
        assert wait_until(lambda: count(db_path) == 1)
        assert collector.last_flush_at is not None


def test_close_flushes_and_later_emits_are_dropped(db_path: Path) -> None:
    collector = Collector(db_path, SLOW)
    collector.emit(ev.SessionStarted(name="x"))
    collector.close()
    collector.close()  # idempotent
    collector.emit(ev.SessionStarted(name="late"))
    assert collector.closed
    assert count(db_path) == 1


def test_listeners_run_after_commit_and_errors_do_not_propagate(db_path: Path) -> None:
    seen: list[tuple[int, int]] = []

    def checking(batch: Sequence[Event]) -> None:
        seen.append((len(batch), count(db_path)))  # rows are visible to another connection

    def broken(batch: Sequence[Event]) -> None:
        raise RuntimeError("listener bug")

    with Collector(db_path, SLOW) as collector:
        collector.subscribe(broken)
        collector.subscribe(checking)
        collector.subscribe(checking)  # subscribing twice is once
        for _ in range(3):
            collector.emit(ev.TaskQueued())
        collector.flush()
        collector.unsubscribe(checking)
        collector.unsubscribe(checking)  # unknown: ignored
        collector.emit(ev.TaskQueued())
        collector.flush()
        assert collector.stats.listener_errors == 2
    assert seen == [(3, 3)]


def test_filters_drop_types_and_predicate(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=1000, flush_interval_s=3600, drop_types=["task_queued"])

    def no_agent_tasks(event: Event) -> bool:
        return getattr(event, "kind", None) != "agent"

    with Collector(
        db_path, settings, drop_types=["task_skipped"], event_filter=no_agent_tasks
    ) as collector:
        collector.emit(ev.TaskQueued())
        collector.emit(ev.TaskSkipped(reason="dep"))
        collector.emit(ev.TaskStarted(kind="agent"))
        collector.emit(ev.TaskStarted(kind="command"))
        assert collector.stats.filtered == 3
    assert count(db_path) == 1
    assert count(db_path, "kind = 'command'") == 1


def test_many_threads_emit_safely(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=50, flush_interval_s=0.05)
    with Collector(db_path, settings) as collector:

        def produce(worker: int) -> None:
            for index in range(300):
                collector.emit(ev.TaskStarted(task_id=f"{worker}-{index}"))

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert count(db_path) == 1200
    assert collector.stats.persisted == 1200


def test_locked_database_is_retried_not_raised(db_path: Path) -> None:
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    collector = Collector(db_path, SLOW, background=False, busy_timeout_s=0.05)
    collector.emit(ev.TaskQueued())
    assert collector.flush() == 0
    assert collector.stats.failed_flushes == 1
    assert collector.pending() == 1
    blocker.execute("ROLLBACK")
    blocker.close()
    assert collector.flush() == 1
    collector.close()
    assert count(db_path) == 1


def test_unopenable_database_never_raises(tmp_path: Path) -> None:
    collector = Collector(tmp_path / "missing-dir" / "db.sqlite", SLOW, background=False)
    collector.emit(ev.TaskQueued())
    assert collector.flush() == 0
    collector.close()
    assert collector.stats.failed_flushes >= 1


def test_buffer_is_bounded_oldest_dropped(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=1, flush_interval_s=3600)
    collector = Collector(db_path, settings, background=False, max_buffer=3)
    for attempt in range(5):
        collector.emit(ev.TaskStarted(attempt=attempt))
    assert collector.stats.dropped == 2
    collector.close()
    conn = connect(db_path)
    rows = conn.execute("SELECT payload FROM events ORDER BY id").fetchall()
    conn.close()
    assert ['"attempt":2' in row[0] for row in rows] == [True, False, False]


SCRIPT = """
import os, signal, sys
from pathlib import Path
from buildrunner.config import TelemetrySettings
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import Collector

collector = Collector(Path(sys.argv[1]), TelemetrySettings(batch_size=10000, flush_interval_s=3600))
for index in range(7):
    collector.emit(ev.TaskQueued(task_id=str(index)))
os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: KeyboardInterrupt, the interpreter exits
"""


def test_buffered_events_survive_ctrl_c(db_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db_path)], capture_output=True, text=True, timeout=60
    )
    assert "KeyboardInterrupt" in result.stderr
    assert result.returncode != 0
    assert count(db_path) == 7


@pytest.mark.parametrize("batch_size", [1, 3])
def test_flush_persists_in_order(db_path: Path, batch_size: int) -> None:
    settings = TelemetrySettings(batch_size=batch_size, flush_interval_s=3600)
    with Collector(db_path, settings, background=False) as collector:
        for attempt in range(6):
            collector.emit(ev.TaskStarted(attempt=attempt))
    conn = connect(db_path)
    payloads = [row[0] for row in conn.execute("SELECT payload FROM events ORDER BY id")]
    conn.close()
    assert [f'"attempt":{n}' in payloads[n] for n in range(6)] == [True] * 6
