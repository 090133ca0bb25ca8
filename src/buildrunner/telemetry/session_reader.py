"""Reading one session from the store into a `Timeline` (see timeline.py).

Attempt times and statuses come from the `attempts` table (the orchestrator's clock, the
durations `br parallel status` shows); what happened inside an attempt comes from the session's
events: model calls (their cost is the one `br telemetry summary` sums), checks, escalations,
verdicts, cache hits. Events that say which attempt they belong to are put there; a model call,
which does not, goes to the attempt of its task that was running when it ended. Sessions
recorded before the verified-task events existed simply have none of them. Text fields are
masked again here (`mask_text`): the trace and the report are files people share.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from buildrunner.security.masking import mask_text
from buildrunner.telemetry.timeline import (
    Attempt,
    Check,
    ModelCall,
    SessionInfo,
    SessionNotFound,
    Task,
    Timeline,
)
from buildrunner.telemetry.timeline_marks import MARK_TYPES, mark_from_event


def load_timeline(
    conn: sqlite3.Connection, session_id: str, *, clock: Callable[[], float] = time.time
) -> Timeline:
    """Read one session from the store; raises SessionNotFound."""
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise SessionNotFound(f"no session '{session_id}' in the store")
    session = SessionInfo(
        row["id"],
        row["name"],
        row["status"],
        row["backend"],
        row["workers"],
        row["created_at"],
        row["started_at"],
        row["ended_at"],
        row["total_tasks"],
        _masked(row["error"]),
        row["budget_usd"],
    )
    tasks = {task.task_id: task for task in _tasks(conn, session_id)}
    attempts = _attempts(conn, session_id)
    for attempt in attempts:
        if attempt.task_id in tasks:
            tasks[attempt.task_id].attempts.append(attempt)
    timeline = Timeline(
        session,
        sorted(tasks.values(), key=lambda t: t.position),
        attempts,
        [],
        [],
        [],
        [],
        _alerts(conn, session),
        clock(),
    )
    _read_events(conn, timeline, tasks)
    return timeline


def _tasks(conn: sqlite3.Connection, session_id: str) -> list[Task]:
    found = []
    for row in conn.execute(
        "SELECT * FROM tasks WHERE session_id = ? ORDER BY position, task_id", (session_id,)
    ):
        spec = json.loads(row["spec_json"] or "{}")
        text = spec.get("description") or spec.get("prompt") or spec.get("run") or ""
        task = Task(
            row["task_id"],
            row["kind"],
            row["status"],
            row["position"],
            mask_text(str(text)),
            [str(dep) for dep in spec.get("depends_on") or []],
            _masked(row["error"]),
            (row["cost_micro_usd"] or 0) / 1_000_000,
            row["model"],
        )
        _stored_verdict(task, row)
        found.append(task)
    return found


def _stored_verdict(task: Task, row: sqlite3.Row) -> None:
    """A database that records how tasks ended (verdict, rung, fix rounds, cache hit: migration
    0005) gives them here; the events, read next, add the detail."""
    columns = row.keys()
    if "verdict" in columns and row["verdict"]:
        task.verdict = row["verdict"]
    if "fix_rounds" in columns and row["fix_rounds"] is not None:
        task.fix_rounds = row["fix_rounds"]
    if "cached" in columns and row["cached"]:
        task.cached = {"cache_key": row["cache_key"] if "cache_key" in columns else None}


def _attempts(conn: sqlite3.Connection, session_id: str) -> list[Attempt]:
    return [
        Attempt(
            row["task_id"],
            row["attempt"],
            row["worker_id"],
            row["status"],
            row["started_at"],
            row["ended_at"],
            row["exit_code"],
            _masked(row["error"]),
            row["cpu_s"],
            row["max_rss_mb"],
        )
        for row in conn.execute(
            "SELECT * FROM attempts WHERE session_id = ? ORDER BY started_at, id", (session_id,)
        )
    ]


def _alerts(conn: sqlite3.Connection, session: SessionInfo) -> list[dict[str, Any]]:
    """Alerts of this session, or that fired while it ran."""
    start = session.started_at or session.created_at
    end = session.ended_at or float("inf")
    rows = conn.execute(
        "SELECT * FROM alerts WHERE session_id = ? OR (fired_at >= ? AND fired_at <= ?)"
        " OR (fired_at IS NULL AND pending_since >= ? AND pending_since <= ?) ORDER BY id",
        (session.session_id, start, end, start, end),
    )
    return [{**dict(row), "message": mask_text(row["message"] or "")} for row in rows]


def _read_events(conn: sqlite3.Connection, timeline: Timeline, tasks: dict[str, Task]) -> None:
    open_checks: dict[tuple[str, int, int, int, str], float] = {}
    for row in conn.execute(
        "SELECT type, ts, task_id, model, success, duration_ms, cost_micro_usd, input_tokens,"
        " output_tokens, error_type, payload FROM events WHERE session_id = ? ORDER BY ts, id",
        (timeline.session.session_id,),
    ):
        kind = row["type"]
        payload = json.loads(row["payload"] or "{}")
        task = tasks.get(row["task_id"] or "")
        if kind in ("model_call_completed", "model_call_failed"):
            call = _call(row, payload)
            timeline.calls.append(call)
            if task is not None:
                task.calls.append(call)
                attempt = _attempt_at(task, call.end)
                if attempt is not None:
                    attempt.calls.append(call)
                    if call.ok:
                        attempt.model = call.model
        elif kind.startswith("check_") and task is not None:
            _check(timeline, task, kind, row["ts"], payload, open_checks)
        elif task is not None and kind in _TASK_FACTS:
            _TASK_FACTS[kind](task, row["ts"], payload)
        if kind in MARK_TYPES:
            mark, finding = mark_from_event(kind, row["ts"], row["task_id"], payload)
            if task is not None and mark.attempt is None:
                attempt = _attempt_at(task, row["ts"])
                mark.attempt = attempt.attempt if attempt else None
            timeline.marks.append(mark)
            if finding is not None:
                timeline.findings.append(finding)
    _session_less_alerts(conn, timeline)
    for task in tasks.values():
        for attempt in task.attempts:
            attempt.model = attempt.model or task.model


def _session_less_alerts(conn: sqlite3.Connection, timeline: Timeline) -> None:
    """Alerts are about the whole project, so their events carry no session: take those that
    fired or resolved while the session ran."""
    for row in conn.execute(
        "SELECT type, ts, payload FROM events WHERE type IN ('alert_fired', 'alert_resolved')"
        " AND session_id IS NULL AND ts >= ? AND ts <= ? ORDER BY ts, id",
        (timeline.start, timeline.end),
    ):
        mark, _ = mark_from_event(row["type"], row["ts"], None, json.loads(row["payload"] or "{}"))
        timeline.marks.append(mark)
    timeline.marks.sort(key=lambda mark: mark.ts)


def _call(row: sqlite3.Row, payload: dict[str, Any]) -> ModelCall:
    latency_s = (row["duration_ms"] or 0.0) / 1000
    return ModelCall(
        row["task_id"],
        row["ts"] - latency_s,
        row["ts"],
        row["model"] or "",
        str(payload.get("provider") or "anthropic"),
        str(payload.get("operation") or "chat"),
        bool(row["success"]),
        (row["cost_micro_usd"] or 0) / 1_000_000,
        row["input_tokens"] or 0,
        row["output_tokens"] or 0,
        int(payload.get("cache_read_tokens") or 0),
        int(payload.get("cache_write_tokens") or 0),
        row["error_type"],
        payload.get("finish_reason"),
    )


def _attempt_at(task: Task, ts: float, number: int | None = None) -> Attempt | None:
    """The attempt `number`, else the one running at `ts`, else the last one started before."""
    if number is not None:
        return next((a for a in task.attempts if a.attempt == number), None)
    before = [a for a in task.attempts if a.start <= ts + 1e-6]
    running = [a for a in before if a.end is None or ts <= a.end + 1e-3]
    chosen = running or before
    return chosen[-1] if chosen else None


def _check(
    timeline: Timeline,
    task: Task,
    kind: str,
    ts: float,
    payload: dict[str, Any],
    open_checks: dict[tuple[str, int, int, int, str], float],
) -> None:
    number, rung, round_ = (
        int(payload.get(name) or default)
        for name, default in (("attempt", 1), ("rung", 1), ("round", 0))
    )
    command = mask_text(str(payload.get("command") or ""))
    key = (task.task_id, number, rung, round_, command)
    attempt = _attempt_at(task, ts, number)
    if attempt is not None:
        attempt.rung = max(attempt.rung or 0, rung)
    if kind == "check_started":
        open_checks[key] = ts
        return
    duration_s = (payload.get("duration_ms") or 0.0) / 1000
    start = open_checks.pop(key, ts - duration_s)
    check = Check(
        task.task_id,
        number,
        rung,
        round_,
        payload.get("model"),
        command,
        start,
        ts,
        kind == "check_passed",
        payload.get("exit_code"),
        bool(payload.get("timed_out")),
        mask_text(str(payload.get("output_tail") or "")),
    )
    timeline.checks.append(check)
    if attempt is not None:
        attempt.checks.append(check)


def _selected(task: Task, ts: float, payload: dict[str, Any]) -> None:
    task.complexity = payload.get("complexity") or payload.get("level") or task.complexity
    task.ladder = [str(m) for m in payload.get("ladder") or []] or task.ladder
    if not task.ladder and payload.get("model"):
        task.ladder = [str(payload["model"])]


def _escalated(task: Task, ts: float, payload: dict[str, Any]) -> None:
    rung = int(payload.get("rung") or 2)
    task.escalations.append(
        (str(payload.get("from_model") or ""), str(payload.get("to_model") or ""), rung)
    )
    attempt = _attempt_at(task, ts, payload.get("attempt"))
    if attempt is not None:
        attempt.rung = max(attempt.rung or 0, rung)


def _verdict(task: Task, ts: float, payload: dict[str, Any], verdict: str) -> None:
    task.verdict = verdict
    task.fix_rounds = payload.get("fix_rounds")
    attempt = _attempt_at(task, ts, payload.get("attempt"))
    if attempt is not None:
        attempt.verdict = verdict
        attempt.rung = max(attempt.rung or 0, int(payload.get("rung") or 1))
        attempt.model = payload.get("model") or attempt.model


def _completed(task: Task, ts: float, payload: dict[str, Any]) -> None:
    verdict = payload.get("verdict")
    attempt = _attempt_at(task, ts, payload.get("attempt"))
    if verdict and attempt is not None:
        attempt.verdict = attempt.verdict or verdict
        attempt.cache_hit = attempt.cache_hit or verdict == "cached"
    if verdict:
        task.verdict = task.verdict or verdict


def _cached(task: Task, ts: float, payload: dict[str, Any]) -> None:
    task.cached = {
        "cache_key": payload.get("cache_key"),
        "saved_usd": payload.get("saved_usd"),
        "saved_s": payload.get("saved_s"),
        "ts": ts,
    }
    attempt = _attempt_at(task, ts)
    if attempt is not None and (attempt.end is None or ts <= attempt.end + 1e-3):
        attempt.cache_hit = True


_TASK_FACTS: dict[str, Callable[[Task, float, dict[str, Any]], None]] = {
    "model_selected": _selected,
    "task_escalated": _escalated,
    "task_accepted": lambda task, ts, payload: _verdict(task, ts, payload, "accepted"),
    "task_rejected": lambda task, ts, payload: _verdict(task, ts, payload, "rejected"),
    "task_completed": _completed,
    "task_cached": _cached,
}


def _masked(text: str | None) -> str | None:
    return mask_text(text) if text else text
