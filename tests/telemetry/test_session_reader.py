"""One session read back from the store: attempts, calls, checks, ladders, marks, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry.session_reader import load_timeline
from buildrunner.telemetry.timeline import SessionNotFound

from .sessions import SECRET, write_verified_session

T0 = 1_700_000_000.0


def test_a_verified_build_reads_back_whole(db_path: Path) -> None:
    session_id = write_verified_session(db_path, T0)
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id, clock=lambda: T0 + 100)
    conn.close()
    assert timeline.session.status == "failed" and timeline.session.name == "verified"
    assert [t.task_id for t in timeline.tasks] == [
        "setup",
        "fix-auth",
        "docs",
        "lint",
        "after-lint",
        "tests",
        "package",
    ]
    assert len(timeline.attempts) == 7 and timeline.workers == ["w1", "w2"]
    assert (timeline.start, timeline.end) == (T0, T0 + 12.2)

    fix = timeline.task("fix-auth")
    assert fix is not None
    (attempt,) = fix.attempts
    assert (attempt.model, attempt.rung, attempt.verdict) == ("sonnet", 2, "accepted")
    assert [c.model for c in attempt.calls] == ["haiku", "haiku", "sonnet", "sonnet"]
    assert attempt.cost_usd == pytest.approx(0.057)
    assert [(c.rung, c.round, c.passed) for c in attempt.checks] == [
        (1, 0, False),
        (1, 1, False),
        (2, 0, True),
    ]
    assert attempt.checks[0].start == pytest.approx(T0 + 2.1)  # from check_started
    assert SECRET not in attempt.checks[0].output_tail and "AKIA" in attempt.checks[0].output_tail
    assert (fix.complexity, fix.ladder) == ("moderate", ["haiku", "sonnet", "opus"])
    assert fix.escalations == [("haiku", "sonnet", 2)]
    assert (fix.verdict, fix.fix_rounds) == ("accepted", 1)

    docs = timeline.task("docs")
    assert docs is not None and docs.cached is not None and docs.attempts[0].cache_hit
    tests = timeline.task("tests")
    assert tests is not None and [a.status for a in tests.attempts] == ["failed", "succeeded"]
    assert tests.busy_s(timeline.end) == pytest.approx(0.9 + 1.4)
    lint = timeline.task("lint")
    assert lint is not None and lint.attempts[0].error is not None
    assert SECRET not in lint.attempts[0].error

    categories = [mark.category for mark in timeline.marks]
    for wanted in ("cache", "escalation", "fallback", "security", "retry", "alert"):
        assert wanted in categories
    escalation = next(m for m in timeline.marks if m.category == "escalation")
    assert (escalation.task_id, escalation.attempt) == ("fix-auth", 1)
    (finding,) = timeline.findings
    assert finding.rule_id == "aws-access-key-id" and SECRET not in finding.match
    assert timeline.cost_usd == pytest.approx(0.057)


def test_session_less_alerts_in_the_window_are_marks(db_path: Path) -> None:
    from buildrunner.telemetry import events as ev

    from .conftest import write_events

    session_id = write_verified_session(db_path, T0)
    write_events(
        db_path,
        [
            ev.AlertFired(ts=T0 + 5, threshold="hourly_cost", level="error", message="cost"),
            ev.AlertFired(ts=T0 + 500, threshold="later", level="error", message="after the build"),
        ],
    )
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id)
    conn.close()
    titles = [mark.title for mark in timeline.marks if mark.category == "alert"]
    assert "alert hourly_cost" in titles and "alert later" not in titles


def test_an_unknown_session_is_a_clear_error(db_path: Path) -> None:
    conn = connect(db_path)
    with pytest.raises(SessionNotFound, match="no session 'nope'"):
        load_timeline(conn, "nope")
    conn.close()


def test_verdict_columns_are_read(db_path: Path) -> None:
    from .sessions import SessionWriter

    writer = SessionWriter(
        db_path, "name: n\ntasks:\n  - id: a\n    prompt: x\n  - id: b\n    prompt: y\n", t0=T0
    )
    writer.run("a", worker="w1", start=0, end=1)
    writer.run("b", worker="w1", start=1, end=2)
    writer.conn.execute(
        "UPDATE tasks SET verdict = 'accepted', rung = 2, fix_rounds = 3 WHERE task_id = 'a'"
    )
    writer.conn.execute("UPDATE tasks SET cached = 1, cache_key = 'k9' WHERE task_id = 'b'")
    session_id = writer.finish(at=2)
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id)
    conn.close()
    a, b = timeline.tasks
    assert (a.verdict, a.fix_rounds, a.cached) == ("accepted", 3, None)
    assert b.cached == {"cache_key": "k9"}
