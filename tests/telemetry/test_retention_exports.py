"""Retention (library, collector and CLI) and exports (CSV a spreadsheet opens, JSONL)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from buildrunner.config import TelemetrySettings
from buildrunner.store.db import connect
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import Collector
from buildrunner.telemetry.exports import (
    CSV_COLUMNS,
    EventQuery,
    event_from_flat,
    export_events,
    flat_event,
    iter_event_rows,
)
from buildrunner.telemetry.retention import prune

from .conftest import query, write_events

DAY = 86400.0
NOW = 1_700_000_000.0


def seed_old_and_new(db_path: Path, now: float) -> None:
    write_events(
        db_path,
        [
            ev.TaskQueued(ts=now - 40 * DAY),
            ev.TaskQueued(ts=now - 31 * DAY),
            ev.TaskQueued(ts=now - 29 * DAY),
            ev.TaskQueued(ts=now - 60),
        ],
    )
    conn = connect(db_path)
    conn.executemany(
        "INSERT INTO alerts(threshold, level, status, message, resolved_at) VALUES (?,?,?,?,?)",
        [
            ("a", "warning", "resolved", "old", now - 35 * DAY),
            ("b", "warning", "resolved", "new", now - DAY),
            ("c", "warning", "firing", "still on", None),
        ],
    )
    conn.close()


def test_prune_deletes_only_what_is_older_than_the_retention(db_path: Path) -> None:
    seed_old_and_new(db_path, NOW)
    conn = connect(db_path)
    counted = prune(conn, 30, NOW, dry_run=True)
    assert (counted.events, counted.alerts, counted.dry_run) == (2, 1, True)
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 4
    done = prune(conn, 30, NOW)
    assert (done.events, done.alerts) == (2, 1)
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
    assert [r[0] for r in conn.execute("SELECT threshold FROM alerts ORDER BY id")] == ["b", "c"]
    conn.close()


def test_prune_works_in_chunks(db_path: Path, monkeypatch: object) -> None:
    import buildrunner.telemetry.retention as retention

    monkeypatch.setattr(retention, "CHUNK_ROWS", 3)  # type: ignore[attr-defined]
    write_events(db_path, [ev.TaskQueued(ts=NOW - 40 * DAY - i) for i in range(10)])
    conn = connect(db_path)
    assert prune(conn, 30, NOW).events == 10
    assert conn.execute("SELECT COUNT(*) FROM event_rollups").fetchone()[0] == 0
    conn.close()


def test_collector_applies_retention_when_it_starts(db_path: Path) -> None:
    now = time.time()
    seed_old_and_new(db_path, now)
    settings = TelemetrySettings(retention_days=30, batch_size=1000, flush_interval_s=0.05)
    with Collector(db_path, settings) as collector:
        collector.emit(ev.TaskQueued())
    assert query(db_path, "SELECT COUNT(*) FROM events")[0][0] == 3


def export_fixture(db_path: Path) -> None:
    write_events(
        db_path,
        [
            ev.TaskFailed(
                ts=NOW,
                session_id="s1",
                task_id="t1",
                kind="command",
                duration_ms=12.5,
                error_type="exit_code",
                error="=cmd|' /C calc'!A0 — naïve",
            ),
            ev.ModelCallCompleted(
                ts=NOW + 1,
                session_id="s1",
                model="sonnet",
                cost_usd=0.0125,
                input_tokens=10,
                output_tokens=2,
                latency_ms=300,
            ),
            ev.TaskQueued(ts=NOW - DAY, session_id="s0", task_id="=SUM(A1)"),
        ],
    )


def test_csv_export_opens_in_a_spreadsheet(db_path: Path, tmp_path: Path) -> None:
    export_fixture(db_path)
    target = tmp_path / "events.csv"
    conn = connect(db_path)
    assert export_events(conn, target, "csv", EventQuery()) == 3
    conn.close()
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the accents right
    assert b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [row["type"] for row in rows] == ["task_queued", "task_failed", "model_call_completed"]
    assert rows[0]["task_id"] == "'=SUM(A1)"  # never evaluated as a formula
    failed = rows[1]
    assert failed["time_utc"] == "2023-11-14T22:13:20.000Z"
    assert (failed["success"], failed["duration_ms"], failed["kind"]) == ("0", "12.5", "command")
    assert json.loads(failed["payload"])["error"] == "=cmd|' /C calc'!A0 — naïve"
    assert rows[2]["cost_usd"] == "0.012500"


def test_jsonl_export_and_filters(db_path: Path, tmp_path: Path) -> None:
    export_fixture(db_path)
    target = tmp_path / "events.jsonl"
    conn = connect(db_path)
    count = export_events(conn, target, "jsonl", EventQuery(since=NOW - 10, session_id="s1"))
    conn.close()
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert count == len(lines) == 2
    assert lines[0]["type"] == "task_failed" and lines[0]["error_type"] == "exit_code"
    assert lines[1]["model"] == "sonnet" and lines[1]["input_tokens"] == 10
    assert lines[1]["time_utc"] == "2023-11-14T22:13:21.000Z"
    rebuilt = event_from_flat(lines[1])
    assert isinstance(rebuilt, ev.ModelCallCompleted) and rebuilt.cost_usd == 0.0125


def every_event_type() -> list[ev.Event]:
    """One event of each type, some with fields that decide the severity."""
    made: list[ev.Event] = [cls(ts=NOW, session_id="s1", task_id="t") for cls in ev.EVENT_CLASSES]
    made += [
        ev.AlertFired(ts=NOW, threshold="hourly_cost", level="critical", message="m"),
        ev.AlertResolved(ts=NOW, threshold="hourly_cost", level="critical", message="m"),
        ev.BudgetExceeded(ts=NOW, hard=False),
        ev.SecurityViolation(ts=NOW, severity="low"),
        ev.event_from_dict({"type": "task_started", "ts": NOW, "level": "debug"}),  # a stray field
        ev.event_from_dict({"type": "agent_note", "ts": NOW, "level": "x", "time_utc": "y"}),
    ]
    return made


def test_no_field_overwrites_the_severity_in_json_exports(db_path: Path, tmp_path: Path) -> None:
    made = every_event_type()
    write_events(db_path, made)
    target = tmp_path / "events.jsonl"
    conn = connect(db_path)
    export_events(conn, target, "jsonl", EventQuery())
    listed = [flat_event(row) for row in iter_event_rows(conn, EventQuery())]
    conn.close()
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert lines == listed  # `br telemetry events --json` and the export agree
    assert len(lines) == len(made)
    for event, line in zip(made, lines, strict=True):
        assert line["level"] == event.event_level(), line
        assert line["time_utc"] == "2023-11-14T22:13:20.000Z"
        assert event_from_flat(line).model_dump() == event.model_dump(), line
    resolved = next(
        line
        for line in lines
        if line["type"] == "alert_resolved" and line["alert_level"] == "critical"
    )
    assert resolved["level"] == "info"
    stray = next(
        line for line in lines if line["type"] == "task_started" and "payload_level" in line
    )
    assert (stray["level"], stray["payload_level"]) == ("info", "debug")


def test_an_old_model_selected_row_shows_its_complexity(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute(
        "INSERT INTO events(event_id, type, ts, level, payload) VALUES"
        " ('e1', 'model_selected', ?, 'info', '{\"model\": \"m\", \"level\": \"complex\"}')",
        (NOW,),
    )
    (row,) = iter_event_rows(conn, EventQuery())
    line = flat_event(row)
    conn.close()
    assert (line["level"], line["complexity"]) == ("info", "complex")
    rebuilt = event_from_flat(line)
    assert isinstance(rebuilt, ev.ModelSelected) and rebuilt.complexity == "complex"
