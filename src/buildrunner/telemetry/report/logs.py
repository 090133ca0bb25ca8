"""Log excerpts for the report: the end of each attempt's log, masked, within a size budget.

Task logs live at `<logs_root>/<session>/<task>.<attempt>.log` (already masked by the worker);
the report keeps the last part of each, masks it again, escapes control characters (colour
codes and the like) and shares a byte budget among attempts, a failed attempt weighing three
times a successful one (its end is usually what a reader wants).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from buildrunner.display import printable
from buildrunner.security.masking import mask_text
from buildrunner.telemetry.timeline import Attempt, Timeline

MIN_EXCERPT_BYTES = 160
MAX_EXCERPT_BYTES = 16_000
FAILED = ("failed", "lost")
PARTIAL_LINE_BYTES = 128  # dropped from a tail that starts mid-line and has no line break


@dataclass
class LogExcerpt:
    task_id: str
    attempt: int
    status: str
    anchor: str
    path: str  # shown: relative to the logs folder
    text: str
    size_bytes: int
    truncated: bool


def log_excerpts(timeline: Timeline, logs_root: Path | None, budget_bytes: int) -> list[LogExcerpt]:
    """One excerpt per attempt whose log exists, in plan order."""
    if logs_root is None:
        return []
    folder = logs_root / timeline.session.session_id
    found = [
        (attempt, folder / f"{attempt.task_id}.{attempt.attempt}.log")
        for attempt in _in_plan_order(timeline)
    ]
    found = [(attempt, path) for attempt, path in found if path.is_file()]
    weights = [3 if attempt.status in FAILED else 1 for attempt, _ in found]
    total = sum(weights) or 1
    excerpts = []
    for (attempt, path), weight in zip(found, weights, strict=True):
        share = min(max(budget_bytes * weight // total, MIN_EXCERPT_BYTES), MAX_EXCERPT_BYTES)
        text, size, truncated = _tail(path, share)
        excerpts.append(
            LogExcerpt(
                attempt.task_id,
                attempt.attempt,
                attempt.status,
                f"log-{attempt.task_id}-{attempt.attempt}",
                f"{timeline.session.session_id}/{path.name}",
                text,
                size,
                truncated,
            )
        )
    return excerpts


def _in_plan_order(timeline: Timeline) -> list[Attempt]:
    return [attempt for task in timeline.tasks for attempt in task.attempts]


def _tail(path: Path, limit: int) -> tuple[str, int, bool]:
    """The last `limit` bytes of a file as masked, printable text (from a line start)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
    except OSError as exc:
        return f"(cannot read the log: {exc.strerror or exc})", 0, False
    truncated = size > limit
    if truncated:  # start at a line start: never half a line (or half a secret)
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else data[PARTIAL_LINE_BYTES:]
    return printable(mask_text(data.decode("utf-8", errors="replace"))), size, truncated
