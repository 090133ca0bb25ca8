"""What a build run reports: progress updates for the CLI and the summary at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TaskUpdate:
    """A change the CLI may show while the build runs."""

    task_id: str
    status: str
    attempt: int = 0
    duration_s: float | None = None
    detail: str | None = None
    log_path: str | None = None


@dataclass
class RunSummary:
    session_id: str
    name: str
    status: str
    counts: dict[str, int]
    duration_s: float
    tasks: list[dict[str, Any]] = field(default_factory=list)
    merge: dict[str, Any] | None = None  # worktree isolation: how the result was merged back
    extra: dict[str, Any] = field(default_factory=dict)  # cost, alerts, ... (added by the caller)

    def to_json(self) -> dict[str, Any]:
        return ({"merge": self.merge} if self.merge else {}) | {
            "session_id": self.session_id,
            "name": self.name,
            "status": self.status,
            "tasks": {key: self.counts.get(key, 0) for key in ("succeeded", "failed", "skipped")}
            | {"cancelled": self.counts.get("cancelled", 0), "total": sum(self.counts.values())},
            "duration_s": round(self.duration_s, 3),
            "results": self.tasks,
        } | self.extra


class Interrupted(Exception):
    """The build was stopped by a signal (Ctrl-C, SIGTERM)."""
