"""What one agent session has spent and done, shared by both executors (API agent loop, Claude Code).

The ledger adds up every model call (cost, usage, turns), writes the transcript, passes events
on, and builds each round's `AgentResult`; each executor keeps only what is its own (the tool
loop, or the CLI run and its permission denials). Totals count the whole session (money limits
are checked against them); a round's tally counts from the start of the current `run` or
`follow_up`, and that is what its result reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from buildrunner.executors.agent_types import (
    AgentResult,
    AgentTask,
    EventSink,
    LoopOptions,
    model_call_event,
)
from buildrunner.executors.transcript import Transcript
from buildrunner.routing.failures import RetryConfig
from buildrunner.routing.providers import CallResult, Usage
from buildrunner.routing.resilience import Answered, call_with_fallback

T = TypeVar("T")


@dataclass
class Tally:
    cost: Decimal = Decimal(0)
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    calls: int = 0
    retries: int = 0
    fallbacks: int = 0


class AttemptLedger:
    def __init__(self, task: AgentTask, on_event: EventSink, options: LoopOptions) -> None:
        self.task = task
        self.on_event = on_event
        self.clock = options.get("clock") or time.monotonic
        self.sleep = options.get("sleep") or time.sleep
        self.retry = options.get("retry") or RetryConfig()
        self.rand = options.get("rand")
        self.should_stop = options.get("should_stop")
        self.total = Tally()
        self.round = Tally()
        self.rounds = 0
        self.final_text = ""
        self.transcript = Transcript(task.log_path)

    @property
    def spent(self) -> Decimal:
        """What the whole session has cost so far."""
        return self.total.cost

    def start_round(self, follow_up: str | None = None) -> None:
        """Begin a round: the next result reports only what happens from here."""
        self.rounds += 1
        self.round = Tally()
        self.final_text = ""
        if follow_up is not None:
            self.transcript.write(f"=== follow-up {self.rounds - 1}: {follow_up}")

    def record_call(self, call: CallResult, cost: Decimal, *, new_turns: int, **event: Any) -> None:
        """Account one model call (its cost, usage, `new_turns` turns) and emit its event with
        the `event` fields added."""
        for tally in (self.total, self.round):
            tally.cost += cost
            tally.usage = tally.usage + call.usage
            tally.turns += new_turns
            tally.calls += 1
        self.transcript.call(self.total.calls, call, cost)
        self.emit(model_call_event(call, cost, **event))

    def call_models(self, chain: Sequence[str], call: Callable[[str], T]) -> Answered[T]:
        """`call` through the failure policy (retries, fallback along `chain`), counted."""
        answer = call_with_fallback(
            chain, call, config=self.retry, on_event=self.emit, sleep=self.sleep,
            clock=self.clock, rand=self.rand, context_windows=self.task.context_windows,
        )  # fmt: skip
        for tally in (self.total, self.round):
            tally.retries += answer.retries
            tally.fallbacks += answer.fallbacks
        return answer

    def emit(self, event: dict[str, Any]) -> None:
        """Pass an event on, noting failures and refusals in the transcript too."""
        self.transcript.event(event)
        self.on_event(event)

    def finish(
        self,
        status: str,
        error_type: str | None,
        error: str | None,
        *,
        model: str,
        changed_files: Collection[str],
        refused_writes: Collection[str],
        unattributed: Collection[str] = (),
        outside_writes: Collection[str] = (),
    ) -> AgentResult:
        """End the round in the transcript and report it."""
        self.transcript.end(status, error, self.round.cost)
        return AgentResult(
            status="succeeded" if status == "succeeded" else "failed",
            error_type=error_type,
            error=error,
            final_text=self.final_text,
            changed_files=sorted(changed_files),
            refused_writes=list(refused_writes),
            turns=self.round.turns,
            cost_usd=self.round.cost,
            model=model,
            usage=self.round.usage,
            calls=self.round.calls,
            retries=self.round.retries,
            fallbacks=self.round.fallbacks,
            unattributed_changes=sorted(unattributed),
            outside_writes=sorted(outside_writes),
        )
