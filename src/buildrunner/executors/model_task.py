"""One entry point for agent tasks: pick the executor for `routing.provider` and start it.

The orchestrator's worker calls `start_model_session(task, settings.routing, price=...,
on_event=...)` and then `session.run()`, and `session.follow_up(text)` for each fix round;
`run_model_task` is the one-round form. A missing API key (or `claude` executable) is a clear
task failure in every round, not a crash, so command tasks of the same build still run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Unpack

from buildrunner.executors.agent_types import (
    AgentResult,
    AgentSession,
    AgentTask,
    EventSink,
    LoopOptions,
    PriceFunction,
)
from buildrunner.routing.failures import MissingCredentialsError, RetryConfig
from buildrunner.routing.providers import create_provider

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings


def retry_config(settings: RoutingSettings) -> RetryConfig:
    """The failure policy's knobs from `[routing]` settings."""
    return RetryConfig(max_retries=settings.max_retries)


def start_model_session(
    task: AgentTask,
    settings: RoutingSettings,
    *,
    price: PriceFunction,
    on_event: EventSink,
    environ: Mapping[str, str] | None = None,
    **options: Unpack[LoopOptions],
) -> AgentSession:
    """A session with the configured provider; never raises for a missing key or CLI.

    `options` are the session's `clock`, `sleep` and `should_stop` (and `rand`); the retry
    policy comes from `settings`.
    """
    environ = os.environ if environ is None else environ
    provider_name = settings.provider
    if provider_name == "claude-code" and shutil.which("claude", path=environ.get("PATH")) is None:
        return _NotRunnable(task, "no_provider", "the `claude` CLI is not on PATH")
    try:
        provider = create_provider(provider_name, settings, environ)
    except MissingCredentialsError as exc:
        return _NotRunnable(task, "no_credentials", str(exc))
    options = {**options, "retry": retry_config(settings)}
    if provider_name == "claude-code":
        from buildrunner.executors.claude_code import start_claude_code_session
        from buildrunner.routing.providers.claude_code import ClaudeCodeProvider

        assert isinstance(provider, ClaudeCodeProvider)
        return start_claude_code_session(
            task, provider=provider, price=price, on_event=on_event, **options
        )
    from buildrunner.executors.agent import start_agent_session

    return start_agent_session(task, provider=provider, price=price, on_event=on_event, **options)


def run_model_task(
    task: AgentTask,
    settings: RoutingSettings,
    *,
    price: PriceFunction,
    on_event: EventSink,
    environ: Mapping[str, str] | None = None,
    **options: Unpack[LoopOptions],
) -> AgentResult:
    """Run an agent task with the configured provider (one round); never raises for a missing
    key."""
    session = start_model_session(
        task, settings, price=price, on_event=on_event, environ=environ, **options
    )
    return session.run()


class _NotRunnable:
    """A session that cannot start (no key, no CLI): every round fails the same clear way."""

    def __init__(self, task: AgentTask, error_type: str, message: str) -> None:
        self.task = task
        self.error_type = error_type
        self.message = message

    def run(self) -> AgentResult:
        return AgentResult(
            status="failed",
            error_type=self.error_type,
            error=self.message,
            final_text="",
            changed_files=[],
            refused_writes=[],
            turns=0,
            cost_usd=Decimal(0),
            model=self.task.models[0] if self.task.models else "",
        )

    def follow_up(self, text: str) -> AgentResult:
        return self.run()
