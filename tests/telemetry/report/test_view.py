"""What the report computes: ladders (with and without the verified-task events) and costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.report.view import build_view
from buildrunner.telemetry.session_reader import load_timeline
from tests.telemetry.sessions import SessionWriter, write_verified_session

T0 = 1_700_000_000.0


def view_of(db_path: Path, session_id: str):  # type: ignore[no-untyped-def]
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id)
    conn.close()
    return build_view(timeline, logs_root=None, generated_at=T0, max_log_bytes=0)


def test_the_ladder_a_verified_task_climbed(db_path: Path) -> None:
    view = view_of(db_path, write_verified_session(db_path, T0))
    ladders = {ladder.task_id: ladder for ladder in view.ladders}
    assert set(ladders) == {"fix-auth", "docs"}  # agent tasks only
    fix = ladders["fix-auth"]
    assert [
        (r.model, r.state, r.checks_passed, r.checks_failed, r.fix_rounds) for r in fix.rungs
    ] == [
        ("haiku", "escalated", 0, 2, 1),
        ("sonnet", "passed", 1, 0, 0),
        ("opus", "not-reached", 0, 0, 0),
    ]
    assert (fix.verdict, fix.escalations, fix.complexity) == ("accepted", 1, "moderate")
    assert [r.state for r in ladders["docs"].rungs] == ["passed", "not-reached"]
    models = {m.model: m for m in view.models}
    assert models["haiku"].input_tokens == 1200 + 800 + 1500  # cached input counted
    assert (models["sonnet"].calls, models["sonnet"].failed) == (2, 1)
    assert sum(m.share for m in view.models) == pytest.approx(1.0)
    assert [row.task.task_id for row in view.costly_tasks] == ["fix-auth"]
    assert (view.retried, view.cached, view.counts["failed"], view.counts["skipped"]) == (
        1,
        1,
        1,
        1,
    )


def test_an_older_agent_build_shows_the_models_it_called(db_path: Path) -> None:
    writer = SessionWriter(db_path, "name: old\ntasks:\n  - id: agent\n    prompt: do it\n", t0=T0)
    writer.emit(ev.ModelSelected, at=0.1, task_id="agent", model="sonnet")
    writer.emit(
        ev.ModelCallFailed,
        at=0.5,
        task_id="agent",
        model="opus",
        error_type="overloaded",
        latency_ms=50,
    )
    writer.emit(
        ev.ModelCallCompleted,
        at=1.5,
        task_id="agent",
        model="sonnet",
        cost_usd=0.01,
        latency_ms=900,
    )
    writer.run(
        "agent", worker="w1", start=0.2, end=2.0, status="failed", exit_code=None, error="gave up"
    )
    view = view_of(db_path, writer.finish(at=2.0, status="failed"))
    (ladder,) = view.ladders
    assert [(r.model, r.state) for r in ladder.rungs] == [("sonnet", "failed")]
    (row,) = view.tasks
    assert (row.model, row.cost_usd, row.verdict) == ("sonnet", 0.01, None)
    assert view.critical.task_ids == ("agent",)
