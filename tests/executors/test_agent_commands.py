"""The agent's run_command tool: off unless allowed, no API key in its environment, and what a
command writes outside the task's files is undone and fails the task."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildrunner.routing.providers.anthropic import AnthropicProvider
from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task, run_api_task


def test_commands_are_off_unless_allowed(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.tool_use("run_command", {"command": "touch app/greet.py"}), api.text("ok"))
    result = run_api_task(make_task(workdir), provider, recorder)
    assert "run_command" not in {tool["name"] for tool in server.requests[0].body["tools"]}
    assert server.tool_results(1)[0]["is_error"] is True
    assert not (workdir / "app" / "greet.py").exists() and result.changed_files == []


def test_allowed_commands_run_in_the_workdir_without_the_api_key(
    server: MessagesServer,
    provider: AnthropicProvider,
    recorder: Recorder,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-should-never-reach-commands")
    command = (
        'echo "key=${ANTHROPIC_API_KEY:-unset}" > app/greet.py; mkdir -p app/__pycache__; '
        "touch app/__pycache__/x.pyc .coverage; pwd"
    )
    server.script(api.tool_use("run_command", {"command": command}), api.text("ok"))
    result = run_api_task(make_task(workdir, allow_commands=True), provider, recorder)
    assert result.status == "succeeded"
    assert (workdir / "app" / "greet.py").read_text() == "key=unset\n"
    output = server.tool_results(1)[0]["content"]
    assert output.startswith("exit code 0") and os.path.realpath(workdir) in output
    assert result.changed_files == ["app/greet.py"]  # caches and coverage data are not work
    assert result.outside_writes == [] and recorder.of_type("tool_refused") == []


def test_a_command_that_writes_outside_files_is_undone_and_fails_the_task(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    command = "echo ok > app/greet.py; echo stray > notes.txt; echo x >> README.md; rm app/main.py"
    server.script(api.tool_use("run_command", {"command": command}), api.text("never asked"))
    result = run_api_task(make_task(workdir, allow_commands=True), provider, recorder)
    assert result.status == "failed" and result.error_type == "write_outside_files"
    assert result.outside_writes == ["README.md", "app/main.py", "notes.txt"]
    assert result.changed_files == ["app/greet.py"]
    assert not (workdir / "notes.txt").exists()
    assert (workdir / "README.md").read_text() == "# demo\n"
    assert (workdir / "app" / "main.py").read_text() == "print('hello')\n"
    refusals = recorder.of_type("tool_refused")
    assert [(e["tool"], e["path"]) for e in refusals] == [
        ("run_command", "README.md"),
        ("run_command", "app/main.py"),
        ("run_command", "notes.txt"),
    ]
    assert len(server.requests) == 1  # the round ended: no more money spent
