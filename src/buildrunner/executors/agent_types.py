"""What the orchestrator hands an agent executor, and what it gets back (shared by both executors)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from buildrunner.routing.providers import CallResult, Usage

PriceFunction = Callable[[str, Usage], Decimal]  # (model id, usage) -> USD
EventSink = Callable[[dict[str, Any]], None]


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


@dataclass
class AgentResult:
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
