"""An AgentTask with test defaults, and one way to run it, shared by the executor tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from buildrunner.executors.agent import run_agent_task
from buildrunner.executors.agent_types import AgentResult, AgentTask
from buildrunner.routing.providers import Provider
from tests.fakes.pricing import OPUS, SONNET, price
from tests.fakes.recorder import Recorder


def make_task(workdir: Path, **overrides: Any) -> AgentTask:
    """A task writing app/greet.py and tests/, on Opus then Sonnet; override any field."""
    fields: dict[str, Any] = {
        "session_id": "s1",
        "task_id": "t1",
        "prompt": "Add a greeting module",
        "workdir": workdir,
        "files": ["app/greet.py", "tests/"],
        "allow_commands": False,
        "models": [OPUS, SONNET],
        "cost_limit_usd": None,
        "budget_allowance_usd": None,
        "max_turns": 10,
    }
    fields.update(overrides)
    return AgentTask(**fields)


def run_api_task(task: AgentTask, provider: Provider, recorder: Recorder) -> AgentResult:
    """The API agent loop with the test prices, events and sleeps going to `recorder`."""
    return run_agent_task(
        task, provider=provider, price=price, on_event=recorder.event, sleep=recorder.sleep
    )
