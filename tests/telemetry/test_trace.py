"""The Chrome trace of a session: one slice per attempt with the store's durations, nested model
calls and checks, instants and counters, and the format's rules (tests/telemetry/trace_rules.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from buildrunner.store.db import Store, connect
from buildrunner.telemetry.session_reader import load_timeline
from buildrunner.telemetry.trace import trace_events, write_trace
from tests.conftest import run_br, write_plan

from .sessions import SECRET, write_verified_session
from .trace_rules import check_trace

T0 = 1_700_000_000.0


def attempt_rows(db_path: Path, session_id: str) -> dict[tuple[str, int], tuple[float, float]]:
    conn = connect(db_path)
    try:
        return {
            (row["task_id"], row["attempt"]): (row["started_at"], row["ended_at"])
            for row in conn.execute("SELECT * FROM attempts WHERE session_id = ?", (session_id,))
        }
    finally:
        conn.close()


def slices(trace: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [
        e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"].split(",")[0] == category
    ]


def assert_one_slice_per_attempt(
    trace: dict[str, Any], rows: dict[tuple[str, int], tuple[float, float]]
) -> None:
    tasks = slices(trace, "task")
    assert len(tasks) == len(rows)
    start = trace["otherData"]["start_ts"]
    for event in tasks:
        begun, ended = rows[(event["args"]["task"], event["args"]["attempt"])]
        assert event["dur"] == pytest.approx((ended - begun) * 1e6, abs=0.01)
        assert event["ts"] == pytest.approx((begun - start) * 1e6, abs=0.01)


def test_a_verified_build_as_a_trace(db_path: Path, tmp_path: Path) -> None:
    session_id = write_verified_session(db_path, T0)
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id)
    conn.close()
    path = tmp_path / "trace.json"
    count = write_trace(timeline, path)
    trace = json.loads(path.read_text(encoding="utf-8"))
    assert len(trace["traceEvents"]) == count
    assert check_trace(trace) == []
    assert_one_slice_per_attempt(trace, attempt_rows(db_path, session_id))

    threads = {
        e["tid"]: e["args"]["name"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert threads == {0: "session", 1: "worker w1", 2: "worker w2"}
    fix = next(e for e in slices(trace, "task") if e["args"]["task"] == "fix-auth")
    assert (fix["tid"], fix["args"]["model"], fix["args"]["rung"], fix["args"]["verdict"]) == (
        1,
        "sonnet",
        2,
        "accepted",
    )
    assert fix["args"]["cost_usd"] == pytest.approx(0.057)
    docs = next(e for e in slices(trace, "task") if e["args"]["task"] == "docs")
    assert docs["args"]["cache_hit"] is True
    lint = next(e for e in slices(trace, "task") if e["args"]["task"] == "lint")
    assert lint["args"]["exit_code"] == 1 and lint["args"]["status"] == "failed"

    calls = slices(trace, "model_call")
    assert [c["name"] for c in calls] == ["chat haiku", "chat haiku", "chat sonnet", "chat sonnet"]
    checks = slices(trace, "check")
    assert [c["args"]["outcome"] for c in checks] == ["failed", "failed", "passed"]
    for child in calls + checks:  # inside the attempt, on its thread
        assert child["tid"] == fix["tid"]
        assert fix["ts"] <= child["ts"] and child["ts"] + child["dur"] <= fix["ts"] + fix["dur"]
    assert checks[0]["dur"] == pytest.approx(0.5e6, abs=1)

    instants = {(e["cat"], e["s"]) for e in trace["traceEvents"] if e["ph"] == "i"}
    assert {
        ("escalation", "t"),
        ("fallback", "t"),
        ("retry", "t"),
        ("cache", "t"),
        ("security", "t"),
        ("alert", "p"),
    } <= instants
    running = [e["args"]["tasks"] for e in trace["traceEvents"] if e["name"] == "tasks running"]
    assert max(running) == 2 and running[-1] == 0
    spend = [e["args"]["usd"] for e in trace["traceEvents"] if e["name"] == "spend (USD)"]
    assert spend[-1] == pytest.approx(0.057)
    assert SECRET not in path.read_text(encoding="utf-8")


def test_overlapping_attempts_of_one_worker_get_their_own_lane(db_path: Path) -> None:
    from .sessions import SessionWriter

    writer = SessionWriter(
        db_path,
        "name: lanes\ntasks:\n  - id: a\n    run: x\n  - id: b\n    run: x\n",
        t0=T0,
        workers=1,
    )
    writer.run("a", worker="w1", start=0.0, end=5.0, status="failed", exit_code=None)
    writer.run("b", worker="w1", start=4.0, end=6.0)  # the store says they overlapped
    session_id = writer.finish(at=6.0)
    conn = connect(db_path)
    trace = trace_events(load_timeline(conn, session_id))
    conn.close()
    assert check_trace(trace) == []
    assert_one_slice_per_attempt(trace, attempt_rows(db_path, session_id))
    assert len({e["tid"] for e in slices(trace, "task")}) == 2


def test_the_format_rules_catch_improper_nesting() -> None:
    bad = {
        "traceEvents": [
            {"name": "a", "ph": "X", "pid": 1, "tid": 1, "ts": 0, "dur": 10},
            {"name": "b", "ph": "X", "pid": 1, "tid": 1, "ts": 5, "dur": 10},
            {"name": "c", "ph": "C", "pid": 1, "tid": 0, "ts": 0, "args": {"x": "1"}},
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {}},
        ]
    }
    problems = check_trace(bad)
    assert any("without nesting" in p for p in problems)
    assert any("counter without numeric values" in p for p in problems)
    assert any("metadata without a string" in p for p in problems)


def test_br_exports_a_real_build_as_a_trace(project: Path) -> None:
    write_plan(
        project,
        "name: traced\ntasks:\n"
        '  - id: one\n    run: python -c "print(1)"\n'
        '  - id: flaky\n    retries: 1\n    run: python -c "import os, sys;'
        " sys.exit(0 if os.environ['BR_ATTEMPT'] == '2' else 3)\"\n"
        '  - id: two\n    run: python -c "print(2)"\n    depends_on: [one]\n',
    )
    assert run_br("run", "plan.yaml", "--workers", "2", cwd=project).returncode == 0
    result = run_br("telemetry", "export", "build.json", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["format"], summary["attempts"]) == ("trace", 4)
    trace = json.loads((project / "build.json").read_text(encoding="utf-8"))
    assert check_trace(trace) == []
    assert_one_slice_per_attempt(trace, attempt_rows(Store(project).db_path, summary["session_id"]))
    flaky = sorted(
        (e["args"]["attempt"], e["args"]["status"])
        for e in slices(trace, "task")
        if e["args"]["task"] == "flaky"
    )
    assert flaky == [(1, "failed"), (2, "succeeded")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["t.json", "--session", "nope"], "no session 'nope'"),
        (["t.json", "--format", "trace", "--since", "1h"], "do not apply to a trace"),
        (["t.txt", "--format", "svg"], "--format must be one of csv, jsonl, trace"),
    ],
)
def test_bad_trace_exports_are_one_line_errors(
    project: Path, args: list[str], message: str
) -> None:
    Store(project).connect().close()
    result = run_br("telemetry", "export", *args, cwd=project)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
