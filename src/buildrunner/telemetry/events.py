"""Typed telemetry events: one pydantic class per event type, with a schema version.

The common fields, ids, masking and stored columns are the base class's (`event_base.py`, whose
names are importable from here too). Model-call fields are named after the OpenTelemetry GenAI
semantic conventions where one fits; `genai.py` maps them to the exported attribute names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from buildrunner.telemetry.event_base import COMMON_FIELDS as COMMON_FIELDS
from buildrunner.telemetry.event_base import LEVELS as LEVELS
from buildrunner.telemetry.event_base import SCHEMA_VERSION as SCHEMA_VERSION
from buildrunner.telemetry.event_base import Event as Event


# -- session ---------------------------------------------------------------------------------
class SessionEvent(Event):
    """Something that happened to a whole build session."""


class SessionStarted(SessionEvent):
    type: Literal["session_started"] = "session_started"
    name: str = ""
    total_tasks: int = 0
    workers: int = 1
    backend: str = "local"
    resumed: bool = False


class SessionCompleted(SessionEvent):
    type: Literal["session_completed"] = "session_completed"
    outcome: ClassVar[bool | None] = True
    status: str = "completed"
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    duration_s: float = 0.0


class SessionFailed(SessionEvent):
    type: Literal["session_failed"] = "session_failed"
    free_text: ClassVar[tuple[str, ...]] = ("error",)
    default_level: ClassVar[str] = "error"
    outcome: ClassVar[bool | None] = False
    status: str = "failed"
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    error: str = ""


class SessionPaused(SessionEvent):
    type: Literal["session_paused"] = "session_paused"


class SessionResumed(SessionEvent):
    type: Literal["session_resumed"] = "session_resumed"


# -- task ------------------------------------------------------------------------------------
class TaskEvent(Event):
    """Something that happened to one task of a session."""

    kind_column: ClassVar[bool] = True
    kind: str | None = None  # command | agent


class TaskQueued(TaskEvent):
    type: Literal["task_queued"] = "task_queued"


class TaskStarted(TaskEvent):
    type: Literal["task_started"] = "task_started"
    attempt: int = 1
    worker_id: str | None = None


class TaskCompleted(TaskEvent):
    type: Literal["task_completed"] = "task_completed"
    outcome: ClassVar[bool | None] = True
    attempt: int = 1
    duration_ms: float | None = None
    exit_code: int | None = None
    # agent tasks: accepted (its checks passed) or unverified (it has no checks); cached: a hit
    verdict: str | None = None


class TaskFailed(TaskEvent):
    type: Literal["task_failed"] = "task_failed"
    free_text: ClassVar[tuple[str, ...]] = ("error",)
    default_level: ClassVar[str] = "error"
    outcome: ClassVar[bool | None] = False
    attempt: int = 1
    duration_ms: float | None = None
    exit_code: int | None = None
    error_type: str = "error"
    error: str = ""


class TaskRetried(TaskEvent):
    type: Literal["task_retried"] = "task_retried"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    default_level: ClassVar[str] = "warning"
    attempt: int = 1
    reason: str = ""


class TaskSkipped(TaskEvent):
    type: Literal["task_skipped"] = "task_skipped"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    reason: str = ""


# -- verified agent tasks: checks, fix rounds and the escalation ladder ----------------------
class CheckEvent(TaskEvent):
    """One run of one check command of an agent task (rung: 1-based place on the ladder;
    round: 0 for the agent's first answer, then 1.. for each fix round)."""

    free_text: ClassVar[tuple[str, ...]] = ("command", "output_tail")
    attempt: int = 1
    rung: int = 1
    round: int = 0
    model: str | None = None
    command: str = ""


class CheckStarted(CheckEvent):
    type: Literal["check_started"] = "check_started"


class CheckPassed(CheckEvent):
    type: Literal["check_passed"] = "check_passed"
    outcome: ClassVar[bool | None] = True
    exit_code: int | None = 0
    duration_ms: float | None = None


class CheckFailed(CheckEvent):
    type: Literal["check_failed"] = "check_failed"
    default_level: ClassVar[str] = "warning"
    outcome: ClassVar[bool | None] = False
    exit_code: int | None = None
    duration_ms: float | None = None
    timed_out: bool = False
    output_tail: str = ""  # the last lines of the check's output (masked, capped)


class TaskEscalated(TaskEvent):
    """The fix loop on one rung was spent: the task restarts on the next model of its ladder."""

    type: Literal["task_escalated"] = "task_escalated"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    default_level: ClassVar[str] = "warning"
    attempt: int = 1
    from_model: str = ""
    to_model: str = ""
    rung: int = 2  # the rung it climbs to
    reason: str = ""


class TaskVerdict(TaskEvent):
    """How a verified agent task ended: accepted (checks passed) or rejected (they never did)."""

    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    attempt: int = 1
    model: str | None = None
    rung: int = 1
    fix_rounds: int = 0  # fix rounds over the whole ladder
    spent_usd: float = 0.0  # what the task's model calls cost (not summed again in metrics)
    reason: str = ""


class TaskAccepted(TaskVerdict):
    type: Literal["task_accepted"] = "task_accepted"
    outcome: ClassVar[bool | None] = True


class TaskRejected(TaskVerdict):
    type: Literal["task_rejected"] = "task_rejected"
    default_level: ClassVar[str] = "error"
    outcome: ClassVar[bool | None] = False


class TaskCached(TaskEvent):
    """A task's inputs were unchanged: its outputs were restored from the task cache."""

    type: Literal["task_cached"] = "task_cached"
    cache_key: str = ""
    saved_usd: float = 0.0  # what the cached run cost when it ran
    saved_s: float = 0.0  # how long it took when it ran


# -- isolation: merge-back and review --------------------------------------------------------
class TaskMerged(TaskEvent):
    """An isolated task's accepted change was applied to the session's integration tree."""

    type: Literal["task_merged"] = "task_merged"
    files: list[str] = Field(default_factory=list)
    how: str = ""


class TaskConflict(TaskEvent):
    """An isolated task's change conflicts with work merged since its snapshot."""

    type: Literal["task_conflict"] = "task_conflict"
    free_text: ClassVar[tuple[str, ...]] = ("detail",)
    default_level: ClassVar[str] = "error"
    outcome: ClassVar[bool | None] = False
    paths: list[str] = Field(default_factory=list)
    branch: str = ""
    detail: str = ""


class ReviewRequested(TaskEvent):
    type: Literal["review_requested"] = "review_requested"


class ReviewDecided(TaskEvent):
    type: Literal["review_decided"] = "review_decided"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    decision: str = ""  # approved | rejected | retry
    reason: str = ""


# -- model calls -----------------------------------------------------------------------------
class ModelEvent(Event):
    """Routing and model-call events (attribute names after OpenTelemetry GenAI)."""

    model: str = ""


class ModelSelected(ModelEvent):
    type: Literal["model_selected"] = "model_selected"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    # the estimated complexity level (not named `level`: that is every event's severity)
    complexity: str | None = None
    ladder: list[str] = Field(default_factory=list)  # the models the task may climb through
    estimated_cost_usd: float | None = None
    reason: str = ""

    @model_validator(mode="before")
    @classmethod
    def _old_level_name(cls, data: Any) -> Any:
        """Events stored before the rename carry the complexity as `level`."""
        if isinstance(data, dict) and "level" in data and "complexity" not in data:
            data = dict(data)
            data["complexity"] = data.pop("level")
        return data


class ModelCallCompleted(ModelEvent):
    type: Literal["model_call_completed"] = "model_call_completed"
    outcome: ClassVar[bool | None] = True
    provider: str = "anthropic"
    operation: str = "chat"
    response_model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    finish_reason: str | None = None


class ModelCallFailed(ModelEvent):
    type: Literal["model_call_failed"] = "model_call_failed"
    free_text: ClassVar[tuple[str, ...]] = ("error",)
    default_level: ClassVar[str] = "warning"
    outcome: ClassVar[bool | None] = False
    provider: str = "anthropic"
    operation: str = "chat"
    error_type: str = "error"
    error: str = ""
    latency_ms: float | None = None
    status_code: int | None = None


class FallbackTriggered(Event):
    type: Literal["fallback_triggered"] = "fallback_triggered"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    default_level: ClassVar[str] = "warning"
    from_model: str = ""
    to_model: str = ""
    reason: str = ""


class BudgetExceeded(Event):
    type: Literal["budget_exceeded"] = "budget_exceeded"
    scope: str = "session"  # session | task | daily | weekly | monthly
    limit_usd: float = 0.0
    spent_usd: float = 0.0
    hard: bool = True

    def event_level(self) -> str:
        return "critical" if self.hard else "warning"


# -- security, workers, alerts ---------------------------------------------------------------
_SECURITY_LEVELS = {"critical": "critical", "high": "error", "error": "error",
                    "medium": "warning", "warning": "warning", "low": "info", "info": "info"}


class SecurityViolation(Event):
    type: Literal["security_violation"] = "security_violation"
    free_text: ClassVar[tuple[str, ...]] = ("match", "message")
    path: str = ""
    line: int | None = None
    rule_id: str = ""
    kind: str = "secret"  # secret | sql_injection
    severity: str = "high"
    match: str = ""  # already masked by the scanner; masked again to be sure
    message: str = ""

    def event_level(self) -> str:
        return _SECURITY_LEVELS.get(self.severity.lower(), "error")


class WorkerOffline(Event):
    type: Literal["worker_offline"] = "worker_offline"
    free_text: ClassVar[tuple[str, ...]] = ("reason",)
    default_level: ClassVar[str] = "warning"
    worker_id: str = ""
    reason: str = ""


class AlertEvent(Event):
    """An alert changed state (written by the alert engine)."""

    free_text: ClassVar[tuple[str, ...]] = ("message",)
    threshold: str = ""
    level: str = "warning"
    value: float | None = None
    threshold_value: float | None = None
    message: str = ""

    def event_level(self) -> str:
        return self.level


class AlertFired(AlertEvent):
    type: Literal["alert_fired"] = "alert_fired"


class AlertResolved(AlertEvent):
    type: Literal["alert_resolved"] = "alert_resolved"

    def event_level(self) -> str:
        return "info"


EVENT_CLASSES: tuple[type[Event], ...] = (
    SessionStarted, SessionCompleted, SessionFailed, SessionPaused, SessionResumed,
    TaskQueued, TaskStarted, TaskCompleted, TaskFailed, TaskRetried, TaskSkipped,
    CheckStarted, CheckPassed, CheckFailed, TaskEscalated, TaskAccepted, TaskRejected, TaskCached,
    TaskMerged, TaskConflict, ReviewRequested, ReviewDecided,
    ModelSelected, ModelCallCompleted, ModelCallFailed, FallbackTriggered, BudgetExceeded,
    SecurityViolation, WorkerOffline, AlertFired, AlertResolved,
)
EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_CLASSES
}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild a typed event from a dict (a worker message or a stored row); raises ValueError.

    An unknown `type` gives a plain `Event` carrying that type, so new producers never lose data.
    """
    fields = dict(data)
    event_type = fields.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError(f"event without a type: {sorted(fields)}")
    cls = EVENT_TYPES.get(event_type, Event)
    if fields.get("ts") is None:
        fields.pop("ts", None)
    if fields.get("event_id") is None:
        fields.pop("event_id", None)
    return cls.model_validate(fields)


def event_from_row(row: Mapping[str, Any]) -> Event:
    """Rebuild a typed event from an `events` row."""
    payload = json.loads(row["payload"] or "{}")
    payload.update(
        type=row["type"], event_id=row["event_id"], ts=row["ts"],
        schema_version=row["schema_version"], session_id=row["session_id"],
        task_id=row["task_id"],
    )
    return event_from_dict(payload)

