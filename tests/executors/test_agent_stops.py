"""The agent loop's stop reasons against the fake Messages API: max_tokens, refusal, pause_turn,
several tool calls in one turn. Every request the loop sends is validated by the fake server as
the real API would (a malformed continuation would come back 400 and fail the test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from buildrunner.routing.providers.anthropic import AnthropicProvider
from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task, run_api_task


def last_user_blocks(server: MessagesServer, request: int) -> list[dict[str, Any]]:
    message = server.requests[request].body["messages"][-1]
    assert message["role"] == "user"
    return list(message["content"])


def test_an_answer_cut_at_max_tokens_is_continued(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.text("part one " * 300, output_tokens=3000), api.text("... and the end."))
    result = run_api_task(make_task(workdir, max_output_tokens=1000), provider, recorder)
    assert result.status == "succeeded" and result.turns == 2
    assert server.rejected == []
    first = server.requests[0].body
    assert first["max_tokens"] == 1000
    continued = server.requests[1].body["messages"]
    assert [m["role"] for m in continued] == ["user", "assistant", "user"]
    assert len(continued[1]["content"][0]["text"]) < len("part one " * 300)  # the cut answer
    assert "cut off by the output limit" in continued[2]["content"][0]["text"]
    stops = [e["finish_reason"] for e in recorder.of_type("model_call_completed")]
    assert stops == ["max_tokens", "end_turn"]
    assert result.usage.output_tokens == 1000 + 20


def test_a_tool_call_cut_at_max_tokens_is_not_run_and_is_asked_again(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    content = "def greet():\n    return 'hello'\n" * 100
    server.script(
        api.tool_uses(
            ("list_files", {}),
            ("write_file", {"path": "app/greet.py", "content": content}),
            output_tokens=None,
        ),
        api.tool_use("write_file", {"path": "app/greet.py", "content": "x = 1\n"}),
        api.text("done"),
    )
    result = run_api_task(make_task(workdir, max_output_tokens=300), provider, recorder)
    assert result.status == "succeeded" and server.rejected == []
    assert (workdir / "app" / "greet.py").read_text() == "x = 1\n"  # never the half file
    sent = server.requests[1].body["messages"]
    assert [b["name"] for b in sent[1]["content"] if b["type"] == "tool_use"] == ["list_files"]
    blocks = last_user_blocks(server, 1)
    assert blocks[0]["type"] == "tool_result" and "app/main.py" in blocks[0]["content"]
    assert "write_file" in blocks[1]["text"] and "was not run" in blocks[1]["text"]


def test_a_refusal_fails_the_task(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.refusal(), api.text("never asked"))
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "failed" and result.error_type == "refusal"
    assert len(server.requests) == 1 and result.cost_usd > 0


def test_a_paused_turn_is_sent_back_as_it_is(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.pause_turn(say="Searching.", query="greeting styles"), api.text("done"))
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "succeeded" and result.turns == 2 and server.rejected == []
    resumed = server.requests[1].body["messages"]
    assert [m["role"] for m in resumed] == ["user", "assistant"]  # no new user turn
    paused = resumed[-1]["content"]
    assert [b["type"] for b in paused] == ["text", "server_tool_use"]
    assert paused[1]["input"] == {"query": "greeting styles"}


def test_several_tool_calls_in_one_turn_are_all_run_and_answered_in_order(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(
        api.tool_uses(
            ("read_file", {"path": "README.md"}),
            ("write_file", {"path": "app/greet.py", "content": "a = 1\n"}),
            ("write_file", {"path": "app/main.py", "content": "nope\n"}),
            ("write_file", {"path": "tests/test_greet.py", "content": "b = 2\n"}),
            say="Doing it all at once.",
        ),
        api.text("done"),
    )
    result = run_api_task(make_task(workdir), provider, recorder)
    assert result.status == "succeeded" and result.turns == 2 and server.rejected == []
    asked = [
        b["id"]
        for b in server.requests[1].body["messages"][1]["content"]
        if b["type"] == "tool_use"
    ]
    results = last_user_blocks(server, 1)
    assert [b["tool_use_id"] for b in results] == asked
    assert results[0]["content"] == "# demo\n" and results[2]["is_error"] is True
    assert result.changed_files == ["app/greet.py", "tests/test_greet.py"]
    assert result.refused_writes == ["app/main.py"]
