"""Sessions that go on: `follow_up` adds a user turn to the same conversation, in both executors."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.config import RoutingSettings
from buildrunner.executors.agent import start_agent_session
from buildrunner.executors.claude_code import start_claude_code_session
from buildrunner.executors.model_task import start_model_session
from buildrunner.routing.providers import Usage
from buildrunner.routing.providers.anthropic import AnthropicProvider
from buildrunner.routing.providers.claude_code import ClaudeCodeProvider
from tests.fakes import messages_server as api
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.messages_server import MessagesServer
from tests.fakes.pricing import OPUS, price
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task

FAILED_CHECK = "The check `pytest -q` failed:\nE   assert greet() == 'hello'"


def test_a_follow_up_goes_on_in_the_same_conversation_and_reports_its_own_round(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(
        api.tool_use("write_file", {"path": "app/greet.py", "content": "def greet(): ...\n"}),
        api.text("Added greet()."),
        api.tool_use(
            "write_file",
            {"path": "tests/test_greet.py", "content": "x = 1\n"},
            input_tokens=900,
            output_tokens=60,
        ),
        api.text("Fixed.", input_tokens=1000, output_tokens=10),
    )
    session = start_agent_session(
        make_task(workdir), provider=provider, price=price, on_event=recorder.event
    )
    first = session.run()
    assert first.status == "succeeded" and first.changed_files == ["app/greet.py"]
    assert first.turns == 2 and first.final_text == "Added greet()."
    second = session.follow_up(FAILED_CHECK)
    assert second.status == "succeeded" and second.final_text == "Fixed."
    assert second.changed_files == ["tests/test_greet.py"] and second.turns == 2
    assert second.cost_usd == price(OPUS, Usage(900, 60)) + price(OPUS, Usage(1000, 10))
    assert second.usage == Usage(1900, 70) and second.calls == 2
    sent = server.requests[2].body
    assert [m["role"] for m in sent["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert sent["messages"][-1]["content"][0]["text"] == FAILED_CHECK
    assert sent["tools"] == server.requests[0].body["tools"] and server.rejected == []
    turns = [e["turn"] for e in recorder.of_type("model_call_completed")]
    assert turns == [1, 2, 3, 4]  # events number the session's turns


def test_money_limits_count_the_whole_session(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    expensive = {"input_tokens": 20_000, "output_tokens": 2_000}  # $0.45 on Opus
    server.script(api.text("done", **expensive), api.text("never"))
    task = make_task(workdir, cost_limit_usd=Decimal("0.50"), models=[OPUS])
    session = start_agent_session(task, provider=provider, price=price, on_event=recorder.event)
    assert session.run().status == "succeeded"
    again = session.follow_up(FAILED_CHECK)
    assert again.status == "failed" and again.error_type == "cost_limit_exceeded"
    assert again.cost_usd == 0 and len(server.requests) == 1


def test_a_follow_up_after_a_stop_mid_tool_call_keeps_the_conversation_valid(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.tool_use("list_files", {}), api.tool_use("list_files", {}), api.text("ok"))
    task = make_task(workdir, max_turns=1)
    session = start_agent_session(task, provider=provider, price=price, on_event=recorder.event)
    assert session.run().error_type == "max_turns"
    assert session.follow_up("Go on.").error_type == "max_turns"
    assert session.follow_up("Finish now.").status == "succeeded"
    assert server.rejected == [] and len(server.requests) == 3
    last = server.requests[2].body["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "text"]


def test_the_session_api_is_used_in_order(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    session = start_agent_session(
        make_task(workdir), provider=provider, price=price, on_event=recorder.event
    )
    with pytest.raises(RuntimeError, match="run\\(\\) before"):
        session.follow_up("too early")
    server.script(api.text("done"))
    session.run()
    with pytest.raises(RuntimeError, match="follow_up"):
        session.run()


def test_claude_code_follow_up_resumes_the_cli_session(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(cost=0.02, session_id="sess-1", writes={"app/greet.py": "a\n"}),
        fake_claude.run(
            cost=0.005, session_id="sess-1", num_turns=2, writes={"tests/test_greet.py": "b\n"}
        ),
    )
    session = start_claude_code_session(
        make_task(workdir), provider=ClaudeCodeProvider(), price=price, on_event=recorder.event
    )
    first = session.run()
    second = session.follow_up(FAILED_CHECK)
    assert (first.cost_usd, second.cost_usd) == (Decimal("0.02"), Decimal("0.005"))
    assert first.changed_files == ["app/greet.py"]
    assert second.changed_files == ["tests/test_greet.py"] and second.turns == 2
    first_call, second_call = fake_claude.invocations
    assert "--resume" not in first_call["argv"]
    argv = second_call["argv"]
    assert argv[argv.index("--resume") + 1] == "sess-1" and second_call["stdin"] == FAILED_CHECK
    assert (
        argv[argv.index("--allowedTools") + 1]
        == first_call["argv"][first_call["argv"].index("--allowedTools") + 1]
    )


def test_claude_code_follow_up_without_a_session_starts_one_with_the_whole_story(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(output="", stderr="Invalid API key", exit_code=1), fake_claude.run()
    )
    session = start_claude_code_session(
        make_task(workdir), provider=ClaudeCodeProvider(), price=price, on_event=recorder.event
    )
    assert session.run().error_type == "auth"
    assert session.follow_up("Try again.").status == "succeeded"
    retried = fake_claude.invocations[1]
    assert "--resume" not in retried["argv"]
    assert retried["stdin"] == "Add a greeting module\n\nTry again."


def test_start_model_session_picks_the_executor_and_fails_clearly_without_a_key(
    server: MessagesServer, recorder: Recorder, workdir: Path
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    settings = RoutingSettings(base_url=server.base_url)
    session = start_model_session(
        make_task(workdir), settings, price=price, on_event=recorder.event, environ=environ
    )
    assert session.run().error_type == "no_credentials"
    assert session.follow_up("again").error_type == "no_credentials"
    server.script(api.text("one"), api.text("two"))
    keyed = start_model_session(
        make_task(workdir),
        settings,
        price=price,
        on_event=recorder.event,
        environ={**environ, "ANTHROPIC_API_KEY": "sk-test"},
    )
    assert keyed.run().final_text == "one" and keyed.follow_up("more").final_text == "two"
