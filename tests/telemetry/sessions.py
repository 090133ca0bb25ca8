"""Sessions written into a real store the way a build writes them, with chosen times.

Session and task rows come from `create_session` (the plan validated as `br run` does), attempt
rows from the build's `SessionRecorder`, and events go through the telemetry `Collector`, so the
trace and the report read exactly what a build leaves behind, including the verified-agent-task
events (checks, escalations, verdicts, cache hits) that today's build loop may not send yet.
Also used by benchmarks/telemetry_report.py for its 1,000-task session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from buildrunner.config import TelemetrySettings
from buildrunner.parallel.plan import parse_plan
from buildrunner.parallel.protocol import TaskOutcome
from buildrunner.parallel.recorder import SessionRecorder
from buildrunner.parallel.sessions import create_session
from buildrunner.store.db import connect, transaction
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import Collector


class SessionWriter:
    """Write one session: `run` attempts, `emit` events, then `finish`."""

    def __init__(self, db_path: Path, plan_text: str, *, t0: float, workers: int = 2) -> None:
        self.conn = connect(db_path)
        self.t0 = t0
        plan = parse_plan(plan_text)
        self.kinds = {task.id: task.kind for task in plan.tasks}
        self.session_id = create_session(self.conn, plan, workers=workers)
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE sessions SET status = 'running', created_at = ?, started_at = ?"
                " WHERE id = ?",
                (t0, t0, self.session_id),
            )
        self.recorder = SessionRecorder(self.conn, self.session_id)
        self.collector = Collector(
            db_path,
            TelemetrySettings(batch_size=5000, flush_interval_s=3600),
            apply_retention=False,
        )
        self.emit(
            ev.SessionStarted, at=0, name=plan.name, total_tasks=len(plan.tasks), workers=workers
        )

    def emit(self, cls: type[ev.Event], *, at: float, **fields: Any) -> None:
        """An event `at` seconds after the session started."""
        self.collector.emit(cls(ts=self.t0 + at, session_id=self.session_id, **fields))

    def run(
        self,
        task_id: str,
        *,
        worker: str,
        start: float,
        end: float,
        attempt: int = 1,
        status: str = "succeeded",
        exit_code: int | None = 0,
        error: str | None = None,
        verdict: str | None = None,
    ) -> None:
        """One attempt of `task_id` on `worker`, from `start` to `end` (seconds after t0)."""
        kind = self.kinds[task_id]
        begin, finish = self.t0 + start, self.t0 + end
        with transaction(self.conn):
            self.recorder.start_attempt(task_id, attempt, worker, begin)
            self.recorder.end_attempt(
                TaskOutcome(task_id, attempt, status, exit_code, end - start, error=error), finish
            )
            self.recorder.set_task(
                task_id,
                status=status,
                attempts=attempt,
                worker_id=worker,
                started_at=begin,
                ended_at=finish,
                duration_s=end - start,
                exit_code=exit_code,
                error=error,
            )
        self.emit(
            ev.TaskStarted, at=start, task_id=task_id, kind=kind, attempt=attempt, worker_id=worker
        )
        duration_ms = (end - start) * 1000
        if status == "succeeded":
            self.emit(
                ev.TaskCompleted,
                at=end,
                task_id=task_id,
                kind=kind,
                attempt=attempt,
                duration_ms=duration_ms,
                exit_code=exit_code,
                verdict=verdict,
            )
        else:
            self.emit(
                ev.TaskFailed,
                at=end,
                task_id=task_id,
                kind=kind,
                attempt=attempt,
                duration_ms=duration_ms,
                exit_code=exit_code,
                error=error or "failed",
                error_type="exit_code",
            )

    def skip(self, task_id: str, *, at: float, reason: str) -> None:
        with transaction(self.conn):
            self.recorder.set_task(task_id, status="skipped", error=reason)
        self.emit(ev.TaskSkipped, at=at, task_id=task_id, reason=reason)

    def finish(self, *, at: float, status: str = "completed") -> str:
        """End the session; returns its id."""
        event = ev.SessionCompleted if status == "completed" else ev.SessionFailed
        self.emit(event, at=at, status=status, duration_s=at)
        self.collector.close()
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE sessions SET status = ?, ended_at = ? WHERE id = ?",
                (status, self.t0 + at, self.session_id),
            )
        self.conn.close()
        return self.session_id


# A raw secret (shaped like an AWS access key id): it reaches the store unmasked only where a
# build would not mask it (an attempt's error, a log), and must be masked in every output.
SECRET = "AKIA" + "Q4XR7TZ2WB6NMJ5K"

VERIFIED_PLAN = """\
name: verified
tasks:
  - id: setup
    run: python -c "print('setup')"
  - id: fix-auth
    description: Fix the login bug in app/auth.py
    prompt: Fix the login bug in app/auth.py
    files: [app/auth.py]
    depends_on: [setup]
  - id: docs
    prompt: Write the API docs
    files: [docs/api.md]
  - id: lint
    run: ruff check .
  - id: after-lint
    run: python -c "print('never')"
    depends_on: [lint]
  - id: tests
    run: pytest -q
    retries: 1
    depends_on: [fix-auth]
  - id: package
    run: python -m build
    depends_on: [tests]
"""


def write_verified_session(db_path: Path, t0: float, logs_root: Path | None = None) -> str:
    """A build that used every kind of event: a model ladder climbed after failed checks, a
    cache hit, a retry, a skip, a fallback, a security finding, an alert and a lost-free run.
    Times in seconds after t0; workers w1 and w2. Returns the session id."""
    w = SessionWriter(db_path, VERIFIED_PLAN, t0=t0, workers=2)
    w.run("setup", worker="w1", start=0.1, end=1.0)
    # docs: a cache hit, restored in a moment
    w.emit(
        ev.ModelSelected,
        at=0.15,
        task_id="docs",
        model="haiku",
        complexity="simple",
        ladder=["haiku", "sonnet"],
    )
    w.emit(
        ev.TaskCached,
        at=0.25,
        task_id="docs",
        kind="agent",
        cache_key="k1",
        saved_usd=0.02,
        saved_s=40.0,
    )
    w.run("docs", worker="w2", start=0.2, end=0.3, verdict="cached")
    # lint fails (its error holds a raw secret), so after-lint is skipped
    w.run(
        "lint",
        worker="w2",
        start=0.4,
        end=1.5,
        status="failed",
        exit_code=1,
        error=f"config.py:3 leaked {SECRET}",
    )
    w.skip("after-lint", at=1.5, reason="depends on failed task lint")
    # fix-auth climbs from haiku (two failed checks) to sonnet (passed)
    w.emit(
        ev.ModelSelected,
        at=1.05,
        task_id="fix-auth",
        model="haiku",
        complexity="moderate",
        ladder=["haiku", "sonnet", "opus"],
    )
    w.emit(
        ev.ModelCallCompleted,
        at=2.0,
        task_id="fix-auth",
        model="haiku",
        input_tokens=1200,
        output_tokens=300,
        cache_read_tokens=800,
        cost_usd=0.004,
        latency_ms=800,
        finish_reason="end_turn",
    )
    _check(
        w,
        2.1,
        2.6,
        rung=1,
        round=0,
        model="haiku",
        passed=False,
        output_tail=f"FAILED test_login - AssertionError (token {SECRET})",
    )
    w.emit(
        ev.ModelCallCompleted,
        at=3.2,
        task_id="fix-auth",
        model="haiku",
        input_tokens=1500,
        output_tokens=200,
        cost_usd=0.003,
        latency_ms=500,
        finish_reason="end_turn",
    )
    _check(w, 3.3, 3.8, rung=1, round=1, model="haiku", passed=False, output_tail="1 failed")
    w.emit(
        ev.TaskEscalated,
        at=3.9,
        task_id="fix-auth",
        kind="agent",
        from_model="haiku",
        to_model="sonnet",
        rung=2,
        reason="checks still failing after 1 fix round",
    )
    w.emit(
        ev.ModelCallFailed,
        at=4.1,
        task_id="fix-auth",
        model="sonnet",
        error_type="overloaded",
        latency_ms=100,
        status_code=529,
    )
    w.emit(
        ev.FallbackTriggered,
        at=4.1,
        task_id="fix-auth",
        from_model="sonnet",
        to_model="sonnet-backup",
        reason="overloaded",
    )
    w.emit(
        ev.ModelCallCompleted,
        at=6.0,
        task_id="fix-auth",
        model="sonnet",
        input_tokens=3000,
        output_tokens=900,
        cost_usd=0.05,
        latency_ms=1800,
        finish_reason="end_turn",
    )
    _check(w, 6.1, 6.5, rung=2, round=0, model="sonnet", passed=True)
    w.emit(
        ev.SecurityViolation,
        at=8.5,
        task_id="fix-auth",
        path="app/auth.py",
        line=3,
        rule_id="aws-access-key-id",
        severity="critical",
        match=SECRET,
        message="AWS key",
    )
    w.emit(
        ev.TaskAccepted,
        at=8.9,
        task_id="fix-auth",
        kind="agent",
        model="sonnet",
        rung=2,
        fix_rounds=1,
        spent_usd=0.057,
    )
    w.run("fix-auth", worker="w1", start=1.1, end=9.0, verdict="accepted")
    # tests fail once on w2, then pass on w1
    w.run(
        "tests",
        worker="w2",
        start=9.1,
        end=10.0,
        status="failed",
        exit_code=2,
        error="2 tests failed",
    )
    w.emit(
        ev.TaskRetried,
        at=10.0,
        task_id="tests",
        kind="command",
        attempt=2,
        reason="attempt 1 failed",
    )
    w.emit(
        ev.AlertFired,
        at=10.05,
        threshold="consecutive_failures",
        level="error",
        value=3,
        threshold_value=3,
        message="3 task attempts failed in a row",
    )
    w.run("tests", worker="w1", start=10.1, end=11.5, attempt=2)
    w.run("package", worker="w1", start=11.6, end=12.0)
    session_id = w.finish(at=12.2, status="failed")
    if logs_root is not None:
        folder = logs_root / session_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "lint.1.log").write_text(
            "\n".join(f"line {n}" for n in range(1, 200)) + f"\nAWS_ACCESS_KEY_ID={SECRET}\n"
        )
        (folder / "tests.1.log").write_text(
            "FAILED tests/test_a.py::test_x <script>alert(1)</script>\n"
        )
        (folder / "tests.2.log").write_text("2 passed in 0.5s\n")
    return session_id


def _check(
    w: SessionWriter,
    start: float,
    end: float,
    *,
    rung: int,
    round: int,
    model: str,
    passed: bool,
    output_tail: str = "",
) -> None:
    common = {
        "task_id": "fix-auth",
        "kind": "agent",
        "attempt": 1,
        "rung": rung,
        "round": round,
        "model": model,
        "command": "pytest -q tests/test_auth.py",
    }
    w.emit(ev.CheckStarted, at=start, **common)
    if passed:
        w.emit(ev.CheckPassed, at=end, exit_code=0, duration_ms=(end - start) * 1000, **common)
    else:
        w.emit(
            ev.CheckFailed,
            at=end,
            exit_code=1,
            duration_ms=(end - start) * 1000,
            output_tail=output_tail,
            **common,
        )
