"""What the orchestrator hands an agent executor, and what it gets back (shared by both executors).

An executor runs a task as a session: `run()` sends the task's prompt and goes on until the model
stops; `follow_up(text)` adds a user turn to the same conversation (for example a failed check's
output) and goes on again. Each call returns an `AgentResult` for that round only: its own cost,
usage, turns, calls, retries, fallbacks, changed files and refusals. Money limits (the task's cost
limit, the budget allowance) and reservations count what the whole session spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

from buildrunner.routing.failures import RetryConfig
from buildrunner.routing.providers import CallResult, Usage

PriceFunction = Callable[[str, Usage], Decimal]  # (model id, usage) -> USD
EventSink = Callable[[dict[str, Any]], None]


class LoopOptions(TypedDict, total=False):
    """How a session waits, retries and stops; every one injectable (tests never sleep)."""

    clock: Callable[[], float]  # default time.monotonic
    sleep: Callable[[float], None]  # default time.sleep
    retry: RetryConfig | None  # the failure policy's knobs (default RetryConfig())
    rand: Callable[[], float] | None  # backoff jitter (default random.random)
    should_stop: Callable[[], bool] | None  # polled between turns (a cancel)


class BudgetBroker(Protocol):
    """Reserves money against every budget that applies before a model call is made.

    Before each provider call (every retry and fallback is a call) an executor reserves the
    call's worst-case cost; the call is made only when a reservation id comes back. After it,
    the reservation is settled to the real cost, or released when the call failed and cost
    nothing.
    """

    def reserve(self, model: str, amount_usd: Decimal) -> str | None:
        """A reservation id, or None when the budgets cannot take `amount_usd` more."""
        ...

    def settle(self, reservation_id: str, actual_usd: Decimal) -> None: ...

    def release(self, reservation_id: str) -> None: ...


@dataclass
class AgentTask:
    session_id: str
    task_id: str
    prompt: str
    workdir: Path
    files: list[str]
    allow_commands: bool
    models: list[str]  # the selected model first, then the fallback chain (catalog ids)
    cost_limit_usd: Decimal | None
    budget_allowance_usd: Decimal | None  # what the session budget still allows this task
    max_turns: int
    timeout_s: float | None = None  # wall-clock limit of the whole task (Claude Code runs)
    max_output_tokens: int = 8192  # per model call
    context_windows: dict[str, int] = field(default_factory=dict)  # model -> tokens, if known
    log_path: Path | None = None  # where the readable (masked) transcript goes
    budget: BudgetBroker | None = None  # reservations before every call (None: no broker)


@dataclass
class AgentResult:
    """One round of a session (`run` or one `follow_up`): what it did and cost."""

    status: Literal["succeeded", "failed"]
    error_type: str | None
    error: str | None
    final_text: str
    changed_files: list[str]  # relative to workdir, sorted: what this task wrote
    refused_writes: list[str]  # paths the model tried to write outside its files
    turns: int
    cost_usd: Decimal
    model: str  # the model that made the last call (after any fallback)
    usage: Usage = field(default_factory=Usage)  # summed over all calls
    calls: int = 0
    retries: int = 0
    fallbacks: int = 0
    # Files changed during the task outside its files (e.g. by a command it ran, or by another
    # task sharing the directory); not claimed as this task's, but worth scanning.
    unattributed_changes: list[str] = field(default_factory=list)
    # Files the task wrote outside its files: undone, and the round failed (write_outside_files).
    outside_writes: list[str] = field(default_factory=list)


class AgentSession(Protocol):
    """One conversation with an agent: the task's prompt, then follow-up user turns."""

    def run(self) -> AgentResult:
        """The task prompt, until the model stops (call once, first)."""
        ...

    def follow_up(self, text: str) -> AgentResult:
        """A new user turn in the same conversation, until the model stops again."""
        ...


def cost_limit(task: AgentTask) -> tuple[Decimal | None, str]:
    """The binding money limit and which one it is ('cost_limit_exceeded' or 'budget_exceeded')."""
    limits = [
        (value, kind)
        for value, kind in (
            (task.cost_limit_usd, "cost_limit_exceeded"),
            (task.budget_allowance_usd, "budget_exceeded"),
        )
        if value is not None
    ]
    if not limits:
        return None, ""
    return min(limits, key=lambda pair: pair[0])


def model_call_event(call: CallResult, cost: Decimal, **extra: Any) -> dict[str, Any]:
    """The model_call_completed event both executors send (cost rows are made from it)."""
    return {
        "type": "model_call_completed",
        "model": call.model,
        "response_model": call.response_model,
        "input_tokens": call.usage.input_tokens,
        "output_tokens": call.usage.output_tokens,
        "cache_read_tokens": call.usage.cache_read_tokens,
        "cache_write_tokens": call.usage.cache_creation_tokens,
        "cost_usd": str(cost),
        "latency_ms": round(call.latency_ms, 3),
        "finish_reason": call.stop_reason,
        **extra,
    }


def budget_exceeded_event(kind: str, limit: Decimal, spent: Decimal) -> dict[str, Any]:
    """The budget_exceeded event for a money stop of `kind` (see `cost_limit`)."""
    return {
        "type": "budget_exceeded",
        "scope": "task" if kind == "cost_limit_exceeded" else "session",
        "limit_usd": str(limit),
        "spent_usd": str(spent),
    }
