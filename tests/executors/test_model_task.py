"""The single entry point: provider picked from settings, a missing key is a clear task failure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from buildrunner.config import RoutingSettings
from buildrunner.executors.agent_types import AgentTask
from buildrunner.executors.model_task import run_model_task
from tests.fakes import messages_server as api
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.messages_server import MessagesServer
from tests.fakes.pricing import OPUS, SONNET, price
from tests.fakes.recorder import Recorder


def make_task(workdir: Path) -> AgentTask:
    return AgentTask(
        session_id="s1",
        task_id="t1",
        prompt="Add a greeting module",
        workdir=workdir,
        files=["app/greet.py"],
        allow_commands=False,
        models=[OPUS, SONNET],
        cost_limit_usd=None,
        budget_allowance_usd=None,
        max_turns=5,
    )


def environment(**extra: str) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return {**base, **extra}


def test_without_a_key_the_task_fails_clearly(
    server: MessagesServer, recorder: Recorder, workdir: Path
) -> None:
    settings = RoutingSettings(base_url=server.base_url)
    result = run_model_task(
        make_task(workdir), settings, price=price, on_event=recorder.event, environ=environment()
    )
    assert result.status == "failed" and result.error_type == "no_credentials"
    assert "ANTHROPIC_API_KEY" in (result.error or "")
    assert server.requests == []


def test_anthropic_provider_from_settings(
    server: MessagesServer, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.overloaded(), api.text("done"))
    settings = RoutingSettings(base_url=server.base_url, max_retries=0)
    result = run_model_task(
        make_task(workdir),
        settings,
        price=price,
        on_event=recorder.event,
        environ=environment(ANTHROPIC_API_KEY="sk-test"),
        sleep=recorder.sleep,
    )
    assert result.status == "succeeded" and server.models_called == [OPUS, SONNET]
    assert server.requests[0].api_key == "sk-test"


def test_claude_code_without_the_cli(recorder: Recorder, workdir: Path) -> None:
    settings = RoutingSettings(provider="claude-code")
    env = environment(PATH=str(workdir))  # no `claude` there
    result = run_model_task(
        make_task(workdir), settings, price=price, on_event=recorder.event, environ=env
    )
    assert result.error_type == "no_provider" and "claude" in (result.error or "")


def test_claude_code_provider_from_settings(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(fake_claude.run(writes={"app/greet.py": "x = 1\n"}))
    settings = RoutingSettings(provider="claude-code")
    result = run_model_task(
        make_task(workdir), settings, price=price, on_event=recorder.event, environ=dict(os.environ)
    )
    assert result.status == "succeeded" and result.changed_files == ["app/greet.py"]
