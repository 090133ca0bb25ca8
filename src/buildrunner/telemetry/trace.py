"""A session as a Chrome Trace Event file (JSON), which Perfetto and chrome://tracing open.

Layout (Trace Event Format, JSON object form):
- one process (pid 1) named after the session; one thread per worker (tid 1..n, in the order
  the workers first ran a task) and tid 0, "session", for the session itself;
- one complete slice (`ph: X`) per task attempt, from the `attempts` table's start and end, so
  durations are the store's; args: task, attempt, status, exit code, model, rung, cost, cache hit,
  verdict, error;
- slices nested in it for its model calls (`chat <model>` / `invoke_agent claude-code`) and its
  checks. A slice must lie inside its parent and not overlap its siblings on the same thread
  (Perfetto drops those that do), so nested slices are clipped to the attempt and to the end of
  the previous one; their args keep the recorded latency;
- instant events (`ph: i`) for alerts, fallbacks, escalations, retries, budget stops, security
  findings, cache hits ... (thread scope on the attempt's worker, else process scope);
- counters (`ph: C`): tasks running, and money spent so far (model calls, USD).
Timestamps are microseconds since the session started (`otherData.start_time_utc` says when).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from buildrunner.store.db import iso_utc
from buildrunner.telemetry.genai import span_name_of
from buildrunner.telemetry.timeline import Attempt, Timeline, worker_lanes

PID = 1
SESSION_TID = 0


def trace_events(timeline: Timeline) -> dict[str, Any]:
    """The whole trace as a JSON-able dict."""
    t0 = timeline.start
    events: list[dict[str, Any]] = [
        _meta("process_name", SESSION_TID, {"name": f"session {timeline.session.name}"}),
        _meta("thread_name", SESSION_TID, {"name": "session"}),
        _meta("thread_sort_index", SESSION_TID, {"sort_index": 0}),
    ]
    lanes = worker_lanes(timeline)
    for name, tid in lanes.names.items():
        events.append(_meta("thread_name", tid, {"name": name}))
        events.append(_meta("thread_sort_index", tid, {"sort_index": tid}))
    events.append(
        _slice(
            "session",
            f"session {timeline.session.name}",
            SESSION_TID,
            t0,
            t0,
            timeline.end,
            {"status": timeline.session.status, "session_id": timeline.session.session_id},
        )
    )
    where = lanes.of_attempt
    for attempt in timeline.attempts:
        events.extend(
            _attempt_slices(timeline, attempt, where[(attempt.task_id, attempt.attempt)], t0)
        )
    for mark in timeline.marks:
        lane = where.get((mark.task_id or "", mark.attempt or 0))
        event: dict[str, Any] = {
            "name": mark.title,
            "cat": mark.category,
            "ph": "i",
            "pid": PID,
            "tid": lane if lane is not None else SESSION_TID,
            "ts": _us(mark.ts - t0),
            "s": "t" if lane is not None else "p",
            "args": {
                "detail": mark.detail,
                "level": mark.level,
                "task": mark.task_id,
                "event": mark.kind,
            },
        }
        events.append(event)
    events.extend(_counters(timeline, t0))
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": "buildrunner",
            "session_id": timeline.session.session_id,
            "session_name": timeline.session.name,
            "status": timeline.session.status,
            "start_time_utc": iso_utc(t0, millis=True),
            "start_ts": t0,
        },
    }


def write_trace(timeline: Timeline, path: Path) -> int:
    """Write the trace to `path`; returns how many trace events it holds."""
    trace = trace_events(timeline)
    with path.open("w", encoding="utf-8") as handle:
        json.dump(trace, handle, ensure_ascii=False, separators=(",", ":"))
    return len(trace["traceEvents"])


def _attempt_slices(
    timeline: Timeline, attempt: Attempt, tid: int, t0: float
) -> list[dict[str, Any]]:
    end = attempt.end if attempt.end is not None else timeline.end
    args = {
        "task": attempt.task_id,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "exit_code": attempt.exit_code,
        "model": attempt.model,
        "rung": attempt.rung,
        "cost_usd": round(attempt.cost_usd, 6),
        "cache_hit": attempt.cache_hit,
        "verdict": attempt.verdict,
        "worker": attempt.worker_id,
    }
    if attempt.error:
        args["error"] = attempt.error
    task = timeline.task(attempt.task_id)
    kind = task.kind if task else "task"
    slices = [_slice(f"task,{kind}", attempt.task_id, tid, t0, attempt.start, end, args)]
    children: list[tuple[float, float, str, str, dict[str, Any]]] = []
    for call in attempt.calls:
        children.append(
            (
                call.start,
                call.end,
                "model_call",
                span_name_of(call.provider, call.operation, call.model),
                {
                    "model": call.model,
                    "ok": call.ok,
                    "cost_usd": call.cost_usd,
                    "input_tokens": call.input_tokens,
                    "output_tokens": call.output_tokens,
                    "cache_read_tokens": call.cache_read_tokens,
                    "latency_ms": round((call.end - call.start) * 1000, 3),
                    "error_type": call.error_type,
                },
            )
        )
    for check in attempt.checks:
        outcome = "passed" if check.passed else "failed" if check.passed is False else "no result"
        children.append(
            (
                check.start,
                check.end,
                "check",
                f"check {check.command[:60]}",
                {
                    "command": check.command,
                    "outcome": outcome,
                    "exit_code": check.exit_code,
                    "rung": check.rung,
                    "round": check.round,
                    "model": check.model,
                    "timed_out": check.timed_out,
                    "duration_ms": round((check.end - check.start) * 1000, 3),
                },
            )
        )
    floor = attempt.start
    for start, stop, category, name, child_args in sorted(children, key=lambda c: (c[0], c[1])):
        start = min(max(start, floor), end)
        stop = min(max(stop, start), end)
        slices.append(_slice(category, name, tid, t0, start, stop, child_args))
        floor = stop
    return slices


def _counters(timeline: Timeline, t0: float) -> Iterable[dict[str, Any]]:
    changes: list[tuple[float, int]] = []
    for attempt in timeline.attempts:
        changes.append((attempt.start, 1))
        if attempt.end is not None:
            changes.append((attempt.end, -1))
    yield _counter("tasks running", 0.0, {"tasks": 0})
    running = 0
    for ts, delta in sorted(changes, key=lambda change: (change[0], change[1])):
        running += delta
        yield _counter("tasks running", ts - t0, {"tasks": running})
    yield _counter("spend (USD)", 0.0, {"usd": 0.0})
    spent = 0.0
    for call in sorted(timeline.calls, key=lambda call: call.end):
        if call.cost_usd:
            spent += call.cost_usd
            yield _counter("spend (USD)", call.end - t0, {"usd": round(spent, 6)})


def _slice(
    category: str, name: str, tid: int, t0: float, start: float, end: float, args: dict[str, Any]
) -> dict[str, Any]:
    begin = _us(start - t0)
    return {
        "name": name,
        "cat": category,
        "ph": "X",
        "pid": PID,
        "tid": tid,
        "ts": begin,
        "dur": max(0.0, _us(end - t0) - begin),
        "args": args,
    }


def _meta(name: str, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": PID, "tid": tid, "args": args}


def _counter(name: str, at: float, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "C", "pid": PID, "tid": SESSION_TID, "ts": _us(at), "args": args}


def _us(seconds: float) -> float:
    return round(seconds * 1_000_000, 3)
