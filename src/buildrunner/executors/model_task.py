"""One entry point for agent tasks: pick the executor for `routing.provider` and run it.

The orchestrator's worker calls `run_model_task(task, settings.routing, price=..., on_event=...)`.
A missing API key (or `claude` executable) is a clear task failure, not a crash, so command tasks
of the same build still run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from buildrunner.executors.agent_types import AgentResult, AgentTask, EventSink, PriceFunction
from buildrunner.routing.failures import MissingCredentialsError, RetryConfig
from buildrunner.routing.providers import create_provider

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings


def retry_config(settings: RoutingSettings) -> RetryConfig:
    """The failure policy's knobs from `[routing]` settings."""
    return RetryConfig(max_retries=settings.max_retries)


def run_model_task(
    task: AgentTask,
    settings: RoutingSettings,
    *,
    price: PriceFunction,
    on_event: EventSink,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] | None = None,
) -> AgentResult:
    """Run an agent task with the configured provider; never raises for a missing key."""
    environ = os.environ if environ is None else environ
    provider_name = settings.provider
    if provider_name == "claude-code" and shutil.which("claude", path=environ.get("PATH")) is None:
        return _not_runnable(task, "no_provider", "the `claude` CLI is not on PATH")
    try:
        provider = create_provider(provider_name, settings, environ)
    except MissingCredentialsError as exc:
        return _not_runnable(task, "no_credentials", str(exc))
    retry = retry_config(settings)
    if provider_name == "claude-code":
        from buildrunner.executors.claude_code import run_claude_code_task
        from buildrunner.routing.providers.claude_code import ClaudeCodeProvider

        assert isinstance(provider, ClaudeCodeProvider)
        return run_claude_code_task(
            task, provider=provider, price=price, on_event=on_event, clock=clock, sleep=sleep,
            retry=retry, should_stop=should_stop,
        )  # fmt: skip
    from buildrunner.executors.agent import run_agent_task

    return run_agent_task(
        task, provider=provider, price=price, on_event=on_event, clock=clock, sleep=sleep,
        retry=retry, should_stop=should_stop,
    )  # fmt: skip


def _not_runnable(task: AgentTask, error_type: str, message: str) -> AgentResult:
    return AgentResult(
        status="failed",
        error_type=error_type,
        error=message,
        final_text="",
        changed_files=[],
        refused_writes=[],
        turns=0,
        cost_usd=Decimal(0),
        model=task.models[0] if task.models else "",
    )
