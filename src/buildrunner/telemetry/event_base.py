"""The base of every telemetry event: common fields, unique ids, masking, the stored columns.

Every event has `type`, `schema_version`, `event_id` (32 hex digits, unique), `ts` (epoch seconds),
`session_id` and `task_id`. Free-text fields (error, reason, message, match, ...) and any
unknown string field are run through the secret masker when the event is built, so no event
ever carries an unmasked secret. In the store an event is one `events` row: the common fields, a
few denormalized columns that metrics aggregate in SQL (`Event.columns()`), and the rest as a
JSON `payload`. The event types themselves are in `events.py`.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from buildrunner.security.masking import mask_text

SCHEMA_VERSION = 1
LEVELS = ("info", "warning", "error", "critical")

# Fields stored in their own `events` columns rather than in the JSON payload.
COMMON_FIELDS = frozenset({"type", "schema_version", "event_id", "ts", "session_id", "task_id"})


class _EventIds:
    """Unique 32-hex-digit event ids: 16 random digits per process, then a counter.

    As unique as uuid4 across processes (the random part is drawn again after a fork) and about
    ten times cheaper, which counts at thousands of events a second.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_new_event_id = _EventIds()


class Event(BaseModel):
    """Base of every event; unknown extra fields are kept (and masked) in the payload."""

    model_config = ConfigDict(extra="allow", validate_assignment=False)

    type: str = "event"
    schema_version: int = SCHEMA_VERSION
    event_id: str = Field(default_factory=_new_event_id)
    ts: float = Field(default_factory=time.time)
    session_id: str | None = None
    task_id: str | None = None

    # Free-text fields run through the masker.
    free_text: ClassVar[tuple[str, ...]] = ()
    # Severity stored in the `level` column (info|warning|error|critical).
    default_level: ClassVar[str] = "info"
    # Outcome stored in the `success` column (None: not an outcome event).
    outcome: ClassVar[bool | None] = None
    # Whether the event's `kind` field is the task kind (the `kind` column).
    kind_column: ClassVar[bool] = False

    @model_validator(mode="after")
    def _mask_free_text(self) -> Event:
        values = self.__dict__
        for name in self.free_text:
            value = values.get(name)
            if isinstance(value, str) and value:
                values[name] = mask_text(value)
        extra = self.__pydantic_extra__
        if extra:
            for name, value in extra.items():
                if isinstance(value, str) and value:
                    extra[name] = mask_text(value)
        return self

    def event_level(self) -> str:
        """The event's severity (the `level` column)."""
        return self.default_level

    def columns(self) -> tuple[Any, ...]:
        """(level, model, success, duration_ms, cost_micro_usd, input_tokens, output_tokens,
        error_type, kind) as stored in the denormalized `events` columns."""
        values = self.__dict__
        cost = values.get("cost_usd")
        duration = values.get("duration_ms", values.get("latency_ms"))
        success = self.outcome
        return (
            self.event_level(),
            values.get("model") or None,
            None if success is None else int(success),
            duration,
            None if cost is None else round(cost * 1_000_000),
            values.get("input_tokens"),
            values.get("output_tokens"),
            values.get("error_type"),
            values.get("kind") if self.kind_column else None,
        )

    def payload_json(self) -> str:
        """The event's own fields (not the common ones) as JSON."""
        return self.model_dump_json(exclude=COMMON_FIELDS)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """All fields, `type` included, as plain JSON-able values."""
        return self.model_dump(mode="json")
