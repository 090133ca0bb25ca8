"""The agent executor end to end: real SDK → real HTTP fake server → real files in tmp_path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.executors.agent import run_agent_task
from buildrunner.routing.providers import Usage
from buildrunner.routing.providers.anthropic import AnthropicProvider
from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer
from tests.fakes.pricing import HAIKU, OPUS, SONNET, price
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task, run_api_task


def test_writes_files_and_finishes(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(
        api.tool_use("list_files", {}),
        api.tool_use("read_file", {"path": "app/main.py"}),
        api.tool_use(
            "write_file", {"path": "app/greet.py", "content": "def greet():\n    return 'hi'\n"}
        ),
        api.tool_use(
            "write_file",
            {"path": "tests/test_greet.py", "content": "from app.greet import greet\n"},
        ),
        api.text("Added app/greet.py with a test.", input_tokens=500, output_tokens=40),
    )
    result = run_api_task(make_task(workdir), provider, recorder)

    assert result.status == "succeeded", result.error
    assert result.final_text == "Added app/greet.py with a test."
    assert (workdir / "app" / "greet.py").read_text() == "def greet():\n    return 'hi'\n"
    assert result.changed_files == ["app/greet.py", "tests/test_greet.py"]
    assert result.refused_writes == [] and result.turns == 5 and result.model == OPUS
    expected = 4 * price(OPUS, Usage(100, 20)) + price(OPUS, Usage(500, 40))
    assert result.cost_usd == expected
    assert "app/main.py" in server.tool_results(1)[0]["content"]
    assert server.tool_results(2)[0]["content"] == "print('hello')\n"
    completed = recorder.of_type("model_call_completed")
    assert len(completed) == 5
    assert completed[-1] == {
        "type": "model_call_completed",
        "model": OPUS,
        "response_model": OPUS,
        "input_tokens": 500,
        "output_tokens": 40,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": str(price(OPUS, Usage(500, 40))),
        "latency_ms": completed[-1]["latency_ms"],
        "finish_reason": "end_turn",
        "turn": 5,
    }
    first = server.requests[0].body
    assert {tool["name"] for tool in first["tools"]} == {
        "read_file",
        "list_files",
        "write_file",
        "edit_file",
    }
    assert "app/greet.py, tests/" in first["system"][0]["text"]


def test_rate_limit_then_success_costs_exactly_one_retry(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.rate_limited(retry_after=1), api.text("done"))
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "succeeded"
    assert result.retries == 1 and result.fallbacks == 0
    assert server.models_called == [OPUS, OPUS]
    assert len(recorder.sleeps) == 1 and recorder.sleeps[0] >= 1.0  # honoured retry-after
    assert [e["reason"] for e in recorder.of_type("task_retried")] == ["rate_limited"]
    assert [e["error_type"] for e in recorder.of_type("model_call_failed")] == ["rate_limited"]


def test_overloaded_opus_falls_back_to_sonnet_and_stays_there(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(
        api.overloaded(),
        api.tool_use("write_file", {"path": "app/greet.py", "content": "x = 1\n"}),
        api.text("done"),
    )
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "succeeded"
    assert server.models_called == [OPUS, SONNET, SONNET]
    assert result.model == SONNET and result.fallbacks == 1 and recorder.sleeps == []
    fallback = recorder.of_type("fallback_triggered")
    assert [(e["from_model"], e["to_model"], e["reason"]) for e in fallback] == [
        (OPUS, SONNET, "overloaded")
    ]
    assert result.cost_usd == 2 * price(SONNET, Usage(100, 20))


def test_unauthorized_fails_at_once(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.unauthorized(), api.text("never sent"))
    result = run_api_task(make_task(workdir, models=[OPUS, SONNET, HAIKU]), provider, recorder)
    assert result.status == "failed" and result.error_type == "auth"
    assert "invalid x-api-key" in (result.error or "")
    assert server.models_called == [OPUS]
    assert recorder.sleeps == [] and recorder.of_type("fallback_triggered") == []
    assert result.cost_usd == 0 and result.turns == 0


def test_write_outside_files_is_refused_and_reported(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(
        api.tool_use("write_file", {"path": "app/main.py", "content": "hacked\n"}),
        api.tool_use("write_file", {"path": "app/greet.py", "content": "ok = True\n"}),
        api.text("done"),
    )
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "succeeded"
    assert (workdir / "app" / "main.py").read_text() == "print('hello')\n"
    assert result.refused_writes == ["app/main.py"]
    assert result.changed_files == ["app/greet.py"]
    refusal = server.tool_results(1)[0]
    assert refusal["is_error"] is True and "not in the task's files" in refusal["content"]
    assert server.tool_results(2)[0].get("is_error") is None
    events = recorder.of_type("tool_refused")
    assert [(e["tool"], e["path"]) for e in events] == [("write_file", "app/main.py")]


@pytest.mark.parametrize(
    "path",
    ["../escaped.txt", "app/../../escaped.txt", "/tmp/escaped-by-agent.txt", "link/escaped.txt"],
)
def test_paths_cannot_leave_the_workdir(
    server: MessagesServer,
    provider: AnthropicProvider,
    recorder: Recorder,
    workdir: Path,
    path: str,
) -> None:
    outside = workdir.parent / "outside"
    outside.mkdir()
    (workdir / "link").symlink_to(outside, target_is_directory=True)
    server.script(
        api.tool_use("write_file", {"path": path, "content": "x"}),
        api.tool_use("read_file", {"path": path.replace("escaped.txt", "secret.txt")}),
        api.text("done"),
    )
    (outside / "secret.txt").write_text("top secret")
    task = make_task(workdir, files=["**"])  # even a task that may write everything
    result = run_api_task(task, provider, recorder)
    assert result.refused_writes == [path] and result.changed_files == []
    assert not (workdir.parent / "escaped.txt").exists()
    assert not (outside / "escaped.txt").exists() and not Path("/tmp/escaped-by-agent.txt").exists()
    read = server.tool_results(2)[0]
    assert read["is_error"] is True and "top secret" not in read["content"]


def test_symlink_inside_workdir_cannot_reach_another_tasks_file(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    (workdir / "tests").mkdir()
    (workdir / "tests" / "alias.py").symlink_to(workdir / "app" / "main.py")
    server.script(
        api.tool_use("write_file", {"path": "tests/alias.py", "content": "hacked\n"}),
        api.text("ok"),
    )
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.refused_writes == ["tests/alias.py"]
    assert (workdir / "app" / "main.py").read_text() == "print('hello')\n"


def test_cost_limit_stops_the_loop_with_the_cost_so_far(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    expensive = {"input_tokens": 20_000, "output_tokens": 2_000}
    server.script(
        api.tool_use("write_file", {"path": "app/greet.py", "content": "a = 1\n"}, **expensive),
        api.tool_use("write_file", {"path": "app/greet.py", "content": "a = 2\n"}, **expensive),
        api.text("never reached"),
    )
    one_call = price(OPUS, Usage(20_000, 2_000))  # $0.45
    task = make_task(workdir, cost_limit_usd=Decimal("0.60"))
    result = run_api_task(task, provider, recorder)
    assert result.status == "failed" and result.error_type == "cost_limit_exceeded"
    assert result.cost_usd == one_call
    assert "$0.60" in (result.error or "") and str(one_call) in (result.error or "")
    assert len(server.requests) == 1  # the second call could not be paid for: never sent
    assert result.changed_files == ["app/greet.py"] and result.turns == 1
    budget = recorder.of_type("budget_exceeded")
    assert budget == [
        {
            "type": "budget_exceeded",
            "scope": "task",
            "limit_usd": "0.60",
            "spent_usd": str(one_call),
        }
    ]


def test_max_tokens_is_capped_by_what_the_limit_can_pay(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.text("done"))
    task = make_task(workdir, cost_limit_usd=Decimal("0.05"))  # Opus output: $75 per million
    result = run_api_task(task, provider, recorder)
    assert result.status == "succeeded"
    sent = server.requests[0].body["max_tokens"]
    assert 256 <= sent < 8192
    assert sent * Decimal(75) / 1_000_000 <= Decimal("0.05")


def test_budget_allowance_stop_is_a_budget_failure(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.text("never"))
    task = make_task(workdir, cost_limit_usd=Decimal("5"), budget_allowance_usd=Decimal("0.001"))
    result = run_api_task(task, provider, recorder)
    assert result.status == "failed" and result.error_type == "budget_exceeded"
    assert result.cost_usd == 0 and server.requests == []
    assert recorder.of_type("budget_exceeded")[0]["scope"] == "session"


def test_max_turns(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(*[api.tool_use("list_files", {}) for _ in range(5)])
    result = run_api_task(make_task(workdir, max_turns=3), provider, recorder)
    assert result.status == "failed" and result.error_type == "max_turns"
    assert result.turns == 3 and len(server.requests) == 3


def test_timeout_is_retried(server: MessagesServer, recorder: Recorder, workdir: Path) -> None:
    quick = AnthropicProvider("sk-test", base_url=server.base_url, timeout_s=0.3)
    server.script(api.slow(api.text("late"), 5.0), api.text("done"))
    result = run_api_task(make_task(workdir), quick, recorder)
    assert result.status == "succeeded" and result.retries == 1
    assert [e["error_type"] for e in recorder.of_type("model_call_failed")] == ["timeout"]


def test_server_errors_retry_then_fall_back(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.server_error(), api.server_error(), api.server_error(), api.text("done"))
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "succeeded"
    assert server.models_called == [OPUS, OPUS, OPUS, SONNET]
    assert (result.retries, result.fallbacks, len(recorder.sleeps)) == (2, 1, 2)


def test_context_too_long_falls_back_to_a_larger_window(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.context_too_long(), api.text("done"))
    windows = {OPUS: 200_000, SONNET: 1_000_000}
    result = run_api_task(make_task(workdir, context_windows=windows), provider, recorder)
    assert result.status == "succeeded" and server.models_called == [OPUS, SONNET]


def test_context_too_long_without_a_larger_model_fails(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.context_too_long(), api.text("never"))
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.error_type == "context_too_long" and server.models_called == [OPUS]


def test_conversation_carries_tool_results_and_a_cache_breakpoint(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.tool_use("read_file", {"path": "README.md"}), api.text("done"))
    run_api_task(make_task(workdir), provider, recorder)
    messages = server.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][0]["type"] == "tool_use"
    result_block = messages[2]["content"][0]
    assert result_block["tool_use_id"] == messages[1]["content"][0]["id"]
    assert result_block["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in str(messages[0])  # only the last block carries a breakpoint


def test_a_bug_in_the_price_function_fails_the_task_not_the_worker(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.text("done"))

    def broken(model: str, usage: Usage) -> Decimal:
        raise KeyError(model)

    result = run_agent_task(
        make_task(workdir), provider=provider, price=broken, on_event=recorder.event
    )
    assert result.status == "failed" and result.error_type == "internal_error"


def test_transcript_log_records_turns_tools_and_failures(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(
        api.overloaded(),
        api.tool_use("write_file", {"path": "secret.txt", "content": "nope"}, say="writing"),
        api.text("finished"),
    )
    log = workdir.parent / "logs" / "t1.log"
    result = run_api_task(make_task(workdir, log_path=log), provider, recorder)
    lines = log.read_text().splitlines()
    assert result.status == "succeeded"
    assert lines[0].startswith("! model_call_failed") and "overloaded" in lines[0]
    assert lines[1].startswith("! fallback_triggered")
    assert lines[2].startswith(f"--- turn 1 · {SONNET} · 100 in / 20 out")
    assert lines[3] == "assistant: writing"
    assert any(line.startswith("! tool_refused") for line in lines)
    tool_line = next(line for line in lines if line.startswith("tool write_file"))
    assert "<4 chars>" in tool_line and "ERROR refused" in tool_line and "nope" not in tool_line
    assert lines[-1].startswith("=== succeeded · $")


def test_edit_file_replaces_one_occurrence_within_scope(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    (workdir / "app" / "greet.py").write_text("a = 1\nb = 1\n")
    server.script(
        api.tool_use("edit_file", {"path": "app/greet.py", "old_text": "= 1", "new_text": "= 2"}),
        api.tool_use(
            "edit_file", {"path": "app/greet.py", "old_text": "b = 1", "new_text": "b = 3"}
        ),
        api.tool_use("edit_file", {"path": "app/main.py", "old_text": "hello", "new_text": "bye"}),
        api.text("done"),
    )
    result = run_api_task(make_task(workdir), provider, recorder)
    assert (workdir / "app" / "greet.py").read_text() == "a = 1\nb = 3\n"
    assert "found 2 times" in server.tool_results(1)[0]["content"]
    assert server.tool_results(2)[0] == {
        "type": "tool_result",
        "tool_use_id": server.requests[2].body["messages"][-2]["content"][0]["id"],
        "content": "edited app/greet.py",
        "cache_control": {"type": "ephemeral"},
    }
    assert (workdir / "app" / "main.py").read_text() == "print('hello')\n"
    assert result.changed_files == ["app/greet.py"] and result.refused_writes == ["app/main.py"]
