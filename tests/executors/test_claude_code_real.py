"""The Claude Code executor with the real `claude` CLI (pinned, installed by
.ci/tools/claude-code.sh) against the fake Messages API on 127.0.0.1: no paid API is called.

The CLI streams (SSE) its requests to the fake server, which validates each one as the real API
would; HOME is a temporary directory, so nothing of the machine's own Claude Code setup is read
or written, and non-essential traffic (updates, telemetry, error reports) is off.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from buildrunner.executors.agent_types import AgentTask
from buildrunner.executors.claude_code import start_claude_code_session
from buildrunner.routing.failures import ModelCallError
from buildrunner.routing.providers import Usage
from buildrunner.routing.providers.claude_code import ClaudeCodeProvider, CliRequest
from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer, running_server
from tests.fakes.pricing import price
from tests.fakes.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / ".ci" / "tools" / "claude-code.sh"
CLAUDE = ROOT / ".tools" / "claude-code" / "node_modules" / ".bin" / "claude"
MODEL = "claude-haiku-4-5"  # a name the CLI knows, so it prices the run itself
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


@pytest.fixture(scope="module")
def claude() -> Path:
    if not (CLAUDE.is_file() and os.access(CLAUDE, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail(f"the Claude Code CLI is not installed: run `bash {INSTALL_SCRIPT}`")
        pytest.skip(f"the Claude Code CLI is not installed (run `bash {INSTALL_SCRIPT}`)")
    return CLAUDE


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    yield from running_server()


@pytest.fixture
def provider(claude: Path, server: MessagesServer, tmp_path: Path) -> ClaudeCodeProvider:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-api03-fake-key-for-tests-only",
        **QUIET,
    }
    return ClaudeCodeProvider(executable=str(claude), env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("# demo\n")
    return root


def task(project: Path, **overrides: Any) -> AgentTask:
    fields: dict[str, Any] = {
        "session_id": "s1", "task_id": "t1", "prompt": "Write hello.txt", "workdir": project,
        "files": ["hello.txt"], "allow_commands": False, "models": [MODEL],
        "cost_limit_usd": None, "budget_allowance_usd": None, "max_turns": 8,
        "timeout_s": 120.0,
    }  # fmt: skip
    fields.update(overrides)
    return AgentTask(**fields)


def write(project: Path, name: str, content: str, **usage: Any) -> api.Reply:
    return api.tool_use("Write", {"file_path": str(project / name), "content": content}, **usage)


def start(task_: AgentTask, provider: ClaudeCodeProvider, recorder: Recorder):  # type: ignore[no-untyped-def]
    return start_claude_code_session(
        task_, provider=provider, price=price, on_event=recorder.event, sleep=recorder.sleep
    )


def test_the_pinned_version_is_installed(claude: Path) -> None:
    version = subprocess.run([str(claude), "--version"], capture_output=True, text=True, timeout=60)
    pinned = next(
        line for line in INSTALL_SCRIPT.read_text().splitlines() if line.startswith("VERSION=")
    )
    assert version.stdout.startswith(pinned.removeprefix("VERSION="))


def test_a_write_inside_files_succeeds_with_tokens_from_model_usage(
    provider: ClaudeCodeProvider, server: MessagesServer, project: Path
) -> None:
    server.script(
        write(
            project,
            "hello.txt",
            "hello\n",
            input_tokens=1000,
            output_tokens=200,
            cache_write=300,
            cache_read=50,
        ),
        api.text("Wrote hello.txt.", input_tokens=1400, output_tokens=30, cache_read=1300),
    )
    recorder = Recorder()
    result = start(task(project), provider, recorder).run()
    assert result.status == "succeeded", result.error
    assert (project / "hello.txt").read_text() == "hello\n"
    assert result.changed_files == ["hello.txt"] and result.outside_writes == []
    assert result.final_text == "Wrote hello.txt." and result.turns == 2
    assert result.usage == Usage(2400, 230, 300, 1350)  # what the server billed, summed
    assert result.cost_usd > 0
    assert len(server.requests) == 2 and all(r.streamed for r in server.requests)
    assert server.rejected == []
    assert server.requests[0].body["model"] == MODEL


@pytest.mark.parametrize(
    "settings",
    [
        {"permissions": {"defaultMode": "acceptEdits"}},
        {"permissions": {"defaultMode": "bypassPermissions"}},
    ],
)
def test_a_write_outside_files_is_denied_even_with_the_repositorys_settings(
    provider: ClaudeCodeProvider, server: MessagesServer, project: Path, settings: dict[str, Any]
) -> None:
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps(settings))
    server.script(
        write(project, "hello.txt", "hello\n"),
        write(project, "outside.txt", "not yours\n"),
        api.text("Done."),
    )
    recorder = Recorder()
    result = start(task(project), provider, recorder).run()
    assert not (project / "outside.txt").exists()
    assert (project / "hello.txt").read_text() == "hello\n"
    assert result.status == "succeeded" and result.refused_writes == ["outside.txt"]
    assert [(e["tool"], e["path"]) for e in recorder.of_type("tool_refused")] == [
        ("Write", "outside.txt")
    ]


def test_a_command_that_writes_outside_files_is_undone_after_the_run(
    provider: ClaudeCodeProvider, server: MessagesServer, project: Path
) -> None:
    # With Bash allowed, the permission rules cannot see where a command writes: the check
    # after the run does.
    command = "echo hello > hello.txt && mkdir -p notes && echo stray > notes/outside.txt"
    server.script(
        api.tool_use("Bash", {"command": command, "description": "write files"}),
        api.text("Done."),
    )
    recorder = Recorder()
    result = start(task(project, allow_commands=True), provider, recorder).run()
    assert result.status == "failed" and result.error_type == "write_outside_files"
    assert result.outside_writes == ["notes/outside.txt"]
    assert not (project / "notes").exists()  # the file and the directory it needed: gone
    assert (project / "hello.txt").read_text() == "hello\n"
    assert result.changed_files == ["hello.txt"]
    refused = recorder.of_type("tool_refused")
    assert [(e["tool"], e["path"]) for e in refused] == [("claude-code", "notes/outside.txt")]


def test_an_overloaded_api_gets_exactly_one_request(
    provider: ClaudeCodeProvider, project: Path
) -> None:
    with MessagesServer(responder=lambda request: api.overloaded()) as always_529:
        provider._env["ANTHROPIC_BASE_URL"] = always_529.base_url
        with pytest.raises(ModelCallError) as raised:
            provider.run(CliRequest(prompt="hi", model=MODEL, workdir=project, timeout_s=120))
        assert len(always_529.requests) == 1
    assert raised.value.failure.type == "overloaded"
    assert raised.value.failure.status_code == 529


def test_a_follow_up_resumes_the_same_cli_conversation(
    provider: ClaudeCodeProvider, server: MessagesServer, project: Path
) -> None:
    server.script(
        write(project, "hello.txt", "helo\n"),
        api.text("Wrote it."),
        write(project, "hello.txt", "hello\n", input_tokens=2000, output_tokens=100),
        api.text("Fixed the typo.", input_tokens=2100, output_tokens=10),
    )
    session = start(task(project), provider, Recorder())
    first = session.run()
    second = session.follow_up("The check failed: hello.txt must say 'hello'.")
    assert first.status == "succeeded" and second.status == "succeeded", second.error
    assert (project / "hello.txt").read_text() == "hello\n"
    assert second.changed_files == ["hello.txt"] and second.final_text == "Fixed the typo."
    assert second.usage == Usage(4100, 110) and second.turns == 2
    resumed = server.requests[2].body["messages"]
    texts = json.dumps(resumed)
    assert "Write hello.txt" in texts and "must say 'hello'" in texts  # one conversation
    assert (
        server.requests[2].headers["x-claude-code-session-id"]
        == (server.requests[0].headers["x-claude-code-session-id"])
    )
    assert server.rejected == []


def test_the_run_is_capped_at_what_the_limit_leaves(
    provider: ClaudeCodeProvider, server: MessagesServer, project: Path
) -> None:
    server.script(
        write(project, "hello.txt", "hello\n", input_tokens=100_000, output_tokens=1_000),
        api.text("never reached"),
    )
    recorder = Recorder()
    result = start(task(project, cost_limit_usd=Decimal("0.01")), provider, recorder).run()
    assert result.status == "failed" and result.error_type == "cost_limit_exceeded"
    assert len(server.requests) == 1  # the CLI stopped itself at the cap
    assert result.cost_usd > Decimal("0.01")  # by the call in flight, as documented
