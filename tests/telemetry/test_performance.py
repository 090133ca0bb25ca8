"""Performance report from the attempts table: timing, throughput, CPU and memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry.performance import performance_report

T0 = 1_700_000_000.0


def seed(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute(
        "INSERT INTO sessions(id, name, plan_json, status, created_at)"
        " VALUES ('s', 'n', '{}', 'completed', 0)"
    )
    tasks = [("a", "command"), ("b", "agent"), ("c", "command"), ("d", "command")]
    conn.executemany(
        "INSERT INTO tasks(session_id, task_id, kind, spec_json, status)"
        " VALUES ('s', ?, ?, '{}', 'succeeded')",
        tasks,
    )
    conn.executemany(
        "INSERT INTO attempts(session_id, task_id, attempt, status, started_at, ended_at, cpu_s,"
        " max_rss_mb) VALUES ('s', ?, ?, ?, ?, ?, ?, ?)",
        [
            ("a", 1, "succeeded", T0, T0 + 10, 5.0, 100.0),
            ("b", 1, "failed", T0 + 5, T0 + 35, 60.0, 300.0),  # 2 cores busy: 200 %
            ("b", 2, "succeeded", T0 + 40, T0 + 60, None, None),  # platform gave no figures
            ("c", 1, "running", T0 + 50, None, None, None),
            ("d", 1, "succeeded", T0 - 7200, T0 - 7100, 1.0, 10.0),
        ],  # outside the window
    )
    conn.close()


def test_report_over_the_window(db_path: Path) -> None:
    seed(db_path)
    conn = connect(db_path)
    report = performance_report(conn, T0 - 60, T0 + 3600, slowest=2)
    conn.close()
    assert (report.attempts, report.succeeded, report.failed, report.running) == (4, 2, 1, 1)
    assert report.duration_s.count == 3 and report.duration_s.max == 30.0
    assert report.duration_s.p50 == 20.0
    assert report.busy_span_s == 60.0
    assert report.throughput_per_min == pytest.approx(3.0)  # 3 finished runs in one minute
    assert report.window_throughput_per_min == pytest.approx(3 / 61, abs=1e-3)
    assert report.cpu_s_total == 65.0
    assert report.cpu_percent.max == 200.0 and report.cpu_percent.count == 2
    assert report.max_rss_mb.max == 300.0
    assert [(t.task_id, t.attempt) for t in report.slowest] == [("b", 1), ("b", 2)]
    kinds = {k.kind: k for k in report.by_kind}
    assert (kinds["agent"].attempts, kinds["agent"].succeeded) == (2, 1)
    assert kinds["command"].cpu_s_total == 5.0


def test_empty_window(db_path: Path) -> None:
    conn = connect(db_path)
    report = performance_report(conn, T0, T0 + 60)
    conn.close()
    assert report.attempts == 0 and report.throughput_per_min is None
    assert report.to_dict()["duration_s"]["p95"] is None
