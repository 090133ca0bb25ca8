"""The Gantt chart's geometry and time labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry.report.gantt import LABEL_WIDTH, build_gantt, format_seconds
from buildrunner.telemetry.session_reader import load_timeline
from tests.telemetry.sessions import write_verified_session

T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0 s"),
        (0.42, "0.42 s"),
        (1.5, "1.5 s"),
        (12.34, "12.3 s"),
        (59.99, "60 s"),
        (125, "2 min 5 s"),
        (120, "2 min"),
        (3600, "1 h"),
        (3 * 3600 + 4 * 60 + 5, "3 h 4 min"),
    ],
)
def test_durations_read_short(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_bars_sit_on_their_worker_row_in_proportion(db_path: Path) -> None:
    session_id = write_verified_session(db_path, T0)
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id)
    conn.close()
    gantt = build_gantt(timeline, {"setup"})
    assert [row.label for row in gantt.rows] == ["worker w1", "worker w2"]
    by_task = {(bar.task_id, bar.attempt): bar for bar in gantt.bars}
    assert len(by_task) == 7
    scale = gantt.plot_width / 12.2  # the session lasted 12.2 s
    setup = by_task[("setup", 1)]
    assert setup.x == pytest.approx(LABEL_WIDTH + 0.1 * scale, abs=0.01)
    assert setup.width == pytest.approx(0.9 * scale, abs=0.02)
    assert setup.critical and not by_task[("lint", 1)].critical
    assert by_task[("tests", 1)].y != by_task[("tests", 2)].y  # w2, then w1
    assert by_task[("docs", 1)].cache_hit and "cache hit" in by_task[("docs", 1)].title
    assert [tick.label for tick in gantt.ticks][:3] == ["0 s", "2 s", "4 s"]
    assert {mark.category for mark in gantt.marks} >= {"escalation", "alert", "retry"}
