"""Typed events: defaults, denormalized columns, round trips through dicts and rows, masking."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry import event_base
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import INSERT_SQL, event_row
from buildrunner.telemetry.events import (
    EVENT_TYPES,
    ModelCallCompleted,
    SecurityViolation,
    TaskFailed,
    event_from_dict,
    event_from_row,
)

REQUIRED_TYPES = {
    "session_started",
    "session_completed",
    "session_failed",
    "task_queued",
    "task_started",
    "task_completed",
    "task_failed",
    "task_retried",
    "task_skipped",
    "model_selected",
    "model_call_completed",
    "model_call_failed",
    "fallback_triggered",
    "budget_exceeded",
    "security_violation",
    "worker_offline",
}


def test_every_required_type_has_its_own_class() -> None:
    assert set(EVENT_TYPES) >= REQUIRED_TYPES
    for name, cls in EVENT_TYPES.items():
        event = cls()
        assert event.type == name
        assert event.schema_version == ev.SCHEMA_VERSION
        assert len(event.event_id) == 32


def test_event_ids_are_unique_and_ts_defaults_to_now() -> None:
    first, second = ev.TaskQueued(), ev.TaskQueued()
    assert first.event_id != second.event_id
    assert abs(first.ts - __import__("time").time()) < 60


def test_model_call_columns_are_denormalized() -> None:
    event = ModelCallCompleted(
        model="claude-sonnet-4-5",
        input_tokens=1200,
        output_tokens=300,
        cache_read_tokens=50,
        cost_usd=0.012345,
        latency_ms=812.5,
        session_id="s1",
        task_id="t1",
    )
    level, model, success, duration, cost, tokens_in, tokens_out, error_type, kind = event.columns()
    assert (level, model, success, duration) == ("info", "claude-sonnet-4-5", 1, 812.5)
    assert (cost, tokens_in, tokens_out, error_type, kind) == (12345, 1200, 300, None, None)


def test_task_failed_columns_carry_error_type_and_kind() -> None:
    event = TaskFailed(kind="command", duration_ms=15.0, exit_code=3, error_type="exit_code")
    assert event.columns() == ("error", None, 0, 15.0, None, None, None, "exit_code", "command")


def test_security_severity_maps_to_level() -> None:
    assert SecurityViolation(severity="critical").event_level() == "critical"
    assert SecurityViolation(severity="medium").event_level() == "warning"
    assert ev.BudgetExceeded(hard=False).event_level() == "warning"
    assert ev.AlertFired(level="critical").event_level() == "critical"


def test_from_dict_rebuilds_the_typed_class_and_keeps_extras() -> None:
    event = event_from_dict(
        {
            "type": "session_started",
            "session_id": "s",
            "name": "demo",
            "workers": 3,
            "resumed": True,
            "future_field": 7,
        }
    )
    assert isinstance(event, ev.SessionStarted)
    assert (event.name, event.workers, event.resumed) == ("demo", 3, True)
    assert event.model_extra == {"future_field": 7}


def test_from_dict_tolerates_unknown_types_and_rejects_missing_type() -> None:
    event = event_from_dict({"type": "agent_turn", "turn": 2, "ts": None})
    assert type(event) is ev.Event
    assert event.type == "agent_turn"
    with pytest.raises(ValueError):
        event_from_dict({"name": "no type"})
    with pytest.raises(ValueError):
        event_from_dict({"type": "task_started", "attempt": "not a number"})


def test_row_round_trip(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite")
    original = ModelCallCompleted(model="m", input_tokens=5, cost_usd=0.5, session_id="s")
    conn.execute(INSERT_SQL, event_row(original))
    row = conn.execute("SELECT * FROM events").fetchone()
    assert row["cost_micro_usd"] == 500_000
    assert "event_id" not in json.loads(row["payload"])
    rebuilt = event_from_row(row)
    assert rebuilt == original
    conn.close()


def test_unique_event_id_makes_inserts_idempotent(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite")
    event = ev.TaskQueued(kind="agent")
    conn.execute(INSERT_SQL, event_row(event))
    conn.execute(INSERT_SQL, event_row(event))
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO events(event_id, type, ts) VALUES (?, 'x', 0)", (event.event_id,))
    conn.close()


def test_free_text_and_unknown_string_fields_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_base, "mask_text", lambda text: text.replace("hunter2", "h*****2"))
    failed = TaskFailed(error="login with hunter2 failed", error_type="exit_code")
    assert failed.error == "login with h*****2 failed"
    assert failed.error_type == "exit_code"
    extra = event_from_dict({"type": "agent_note", "text": "pw hunter2", "count": 2})
    assert extra.model_extra == {"text": "pw h*****2", "count": 2}


def test_the_real_masker_hides_secrets_in_events() -> None:
    from buildrunner.security import masking

    secret = "AKIA" + "Z7QW3RT5YU2IO4PX"  # shaped like an AWS access key id
    assert secret not in masking.mask_text(f"key={secret}")
    failed = TaskFailed(error=f"deploy failed: key={secret}")
    assert secret not in failed.error
    assert secret not in failed.payload_json()


def test_event_ids_are_unique_in_a_process_and_across_a_fork() -> None:
    import os

    ids = {ev.TaskQueued(task_id="t").event_id for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child's ids must not repeat the parent's next ones
        os.write(write, "\n".join(ev.TaskQueued().event_id for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as stream:
        from_child = set(stream.read().split())
    from_parent = {ev.TaskQueued().event_id for _ in range(10)}
    assert len(from_child) == 10 and not from_child & (from_parent | ids)


def test_model_selected_keeps_complexity_apart_from_the_severity_level() -> None:
    event = ev.ModelSelected(model="m", complexity="simple", ladder=["a", "b"])
    assert event.to_dict()["complexity"] == "simple"
    assert event.columns()[0] == "info"
    # events stored before the rename named the complexity `level`
    old = event_from_dict({"type": "model_selected", "model": "m", "level": "complex"})
    assert isinstance(old, ev.ModelSelected)
    assert old.complexity == "complex"
    assert old.columns()[0] == "info"


def test_check_output_and_commands_are_masked() -> None:
    secret = "AKIA" + "Q3EGRTZ7KXLW5DN2"
    event = ev.CheckFailed(command=f"deploy --key {secret}", output_tail=f"key={secret}\nfailed")
    assert secret not in event.payload_json()
    assert event.columns()[0] == "warning"
    assert event.columns()[2] == 0
