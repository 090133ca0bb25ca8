"""A readable, masked log of an agent task: each turn's model, tokens, cost, text and tool calls."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from buildrunner.routing.failures import mask
from buildrunner.routing.providers import CallResult

EXCERPT_CHARS = 2_000  # of each tool result and input kept in the log
NOTEWORTHY = frozenset(
    {"model_call_failed", "task_retried", "fallback_triggered", "tool_refused", "budget_exceeded"}
)


class Transcript:
    """Appends to the task's log file; does nothing without a path. Never raises on I/O."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, text: str) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(mask(text) + "\n")
        except OSError:
            self.path = None  # a log that cannot be written must not fail the task

    def call(self, turn: int, call: CallResult, cost: Decimal) -> None:
        usage = call.usage
        self.write(
            f"--- turn {turn} · {call.model} · {usage.input_tokens} in / {usage.output_tokens} out"
            f" / {usage.cache_read_tokens} cache read · ${cost} · {call.stop_reason}"
        )
        if call.text:
            self.write(f"assistant: {call.text}")

    def tool(self, name: str, tool_input: Mapping[str, Any], result: str, is_error: bool) -> None:
        shown = {key: value for key, value in tool_input.items() if key != "content"}
        if "content" in tool_input:
            shown["content"] = f"<{len(str(tool_input['content']))} chars>"
        status = "ERROR " if is_error else ""
        self.write(f"tool {name} {_excerpt(json.dumps(shown))}: {status}{_excerpt(result)}")

    def event(self, event: Mapping[str, Any]) -> None:
        """Failures, retries, fallbacks, refusals and money stops, one line each."""
        if event.get("type") in NOTEWORTHY:
            details = {key: value for key, value in event.items() if key != "type"}
            self.write(f"! {event['type']} {json.dumps(details, default=str)}")

    def end(self, status: str, error: str | None, cost: Decimal) -> None:
        self.write(f"=== {status} · ${cost}" + (f" · {error}" if error else ""))


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS] + f" [... {len(text) - EXCERPT_CHARS} more chars]"
