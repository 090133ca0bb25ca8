"""What one agent attempt has spent and done, shared by both executors (API agent loop, Claude Code).

The ledger adds up every model call (cost, usage, turns), writes the transcript, passes events
on, and builds the attempt's `AgentResult`; each executor keeps only what is its own (the tool
loop, or the CLI run and its permission denials).
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from buildrunner.executors.agent_types import AgentResult, AgentTask, EventSink, model_call_event
from buildrunner.executors.transcript import Transcript
from buildrunner.routing.providers import CallResult, Usage


class AttemptLedger:
    def __init__(self, task: AgentTask, on_event: EventSink) -> None:
        self.task = task
        self.on_event = on_event
        self.spent = Decimal(0)
        self.usage = Usage()
        self.turns = 0
        self.calls = 0
        self.retries = 0
        self.fallbacks = 0
        self.final_text = ""
        self.transcript = Transcript(task.log_path)

    def record_call(self, call: CallResult, cost: Decimal, *, new_turns: int, **event: Any) -> None:
        """Account one model call (its cost, usage, `new_turns` turns) and emit its event with
        the `event` fields added."""
        self.spent += cost
        self.usage = self.usage + call.usage
        self.turns += new_turns
        self.calls += 1
        self.transcript.call(self.calls, call, cost)
        self.emit(model_call_event(call, cost, **event))

    def emit(self, event: dict[str, Any]) -> None:
        """Pass an event on, noting failures and refusals in the transcript too."""
        self.transcript.event(event)
        self.on_event(event)

    def finish(
        self, status: str, error_type: str | None, error: str | None, *, model: str,
        changed_files: Collection[str], refused_writes: Collection[str],
        unattributed: Collection[str],
    ) -> AgentResult:
        """End the transcript and report the attempt."""
        self.transcript.end(status, error, self.spent)
        return AgentResult(
            status="succeeded" if status == "succeeded" else "failed",
            error_type=error_type,
            error=error,
            final_text=self.final_text,
            changed_files=sorted(changed_files),
            refused_writes=list(refused_writes),
            turns=self.turns,
            cost_usd=self.spent,
            model=model,
            usage=self.usage,
            calls=self.calls,
            retries=self.retries,
            fallbacks=self.fallbacks,
            unattributed_changes=sorted(unattributed),
        )
