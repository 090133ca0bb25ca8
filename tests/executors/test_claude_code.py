"""The Claude Code executor with a fake `claude` executable on PATH (a real subprocess)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from buildrunner.executors.claude_code import (
    AgentResult,
    AgentTask,
    permission_rules,
    run_claude_code_task,
)
from buildrunner.routing.providers import Usage
from buildrunner.routing.providers.claude_code import ClaudeCodeProvider
from tests.fakes.fake_claude import FakeClaude, result_json
from tests.fakes.pricing import OPUS, SONNET, price
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task as make_agent_task


def make_task(workdir: Path, **overrides: Any) -> AgentTask:
    return make_agent_task(workdir, **{"max_turns": 12, **overrides})


def run(task: AgentTask, recorder: Recorder) -> AgentResult:
    return run_claude_code_task(
        task,
        provider=ClaudeCodeProvider(),
        price=price,
        on_event=recorder.event,
        sleep=recorder.sleep,
    )


def test_runs_claude_and_parses_usage_and_cost(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(
            result="Added greet().",
            cost=0.0421,
            num_turns=4,
            writes={"app/greet.py": "def greet(): ...\n", "tests/test_greet.py": "x = 1\n"},
        )
    )
    result = run(make_task(workdir), recorder)
    assert result.status == "succeeded", result.error
    assert result.final_text == "Added greet()."
    assert result.cost_usd == Decimal("0.0421")  # the CLI's own total_cost_usd
    assert result.usage == Usage(1200, 340, 2000, 15000)
    assert result.turns == 4 and result.model == OPUS
    assert result.changed_files == ["app/greet.py", "tests/test_greet.py"]
    event = recorder.of_type("model_call_completed")[0]
    assert event["cost_usd"] == "0.0421" and event["cache_read_tokens"] == 15000
    assert event["cache_write_tokens"] == 2000 and event["provider"] == "claude-code"
    argv = fake_claude.invocations[0]["argv"]
    assert argv[argv.index("--model") + 1] == OPUS
    assert argv[argv.index("--max-turns") + 1] == "12"
    allowed = argv[argv.index("--allowedTools") + 1].split(",")
    assert "Edit(app/greet.py)" in allowed and "Write(tests/**)" in allowed
    assert "Bash" not in allowed and argv[argv.index("--disallowedTools") + 1] == "Bash"
    assert fake_claude.invocations[0]["stdin"] == "Add a greeting module"


def test_without_reported_cost_the_price_function_is_used(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(fake_claude.run(cost=None))
    result = run(make_task(workdir), recorder)
    assert result.cost_usd == price(OPUS, Usage(1200, 340, 2000, 15000))


def test_denied_writes_are_refused_writes(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    denial = {
        "tool_name": "Write",
        "tool_use_id": "toolu_1",
        "tool_input": {"file_path": f"{workdir.resolve()}/app/main.py", "content": "x"},
    }
    read_denial = {"tool_name": "WebFetch", "tool_use_id": "toolu_2", "tool_input": {}}
    fake_claude.script(fake_claude.run(permission_denials=[denial, read_denial]))
    result = run(make_task(workdir), recorder)
    assert result.refused_writes == ["app/main.py"]
    assert [e["path"] for e in recorder.of_type("tool_refused")] == ["app/main.py"]


def test_a_write_outside_files_by_a_command_is_undone_and_fails_the_task(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    (workdir / "README.md").write_text("# demo\n")
    fake_claude.script(
        fake_claude.run(
            writes={
                "app/greet.py": "ok\n",
                "notes.txt": "stray\n",
                "README.md": "defaced\n",
                ".git/x": "ignored",
                "app/__pycache__/m.pyc": "cache",
            },
            tool_calls=[("Bash", {"command": "./generate.sh"})],
        )
    )
    result = run(make_task(workdir, allow_commands=True), recorder)
    assert result.status == "failed" and result.error_type == "write_outside_files"
    assert result.changed_files == ["app/greet.py"]
    assert result.outside_writes == ["README.md", "notes.txt"]
    assert not (workdir / "notes.txt").exists()  # created: removed
    assert (workdir / "README.md").read_text() == "# demo\n"  # modified: put back
    assert (workdir / ".git" / "x").exists() and (workdir / "app" / "greet.py").exists()
    refusals = recorder.of_type("tool_refused")
    assert [(e["tool"], e["path"]) for e in refusals] == [
        ("claude-code", "README.md"),
        ("claude-code", "notes.txt"),
    ]
    assert all("reverted" in e["reason"] for e in refusals)
    allowed = fake_claude.invocations[0]["argv"]
    assert "Bash" in allowed[allowed.index("--allowedTools") + 1].split(",")


def test_with_only_file_tools_another_tasks_write_is_not_taken_for_this_ones(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    greet = f"{workdir.resolve()}/app/greet.py"
    fake_claude.script(
        fake_claude.run(
            writes={"app/greet.py": "ok\n", "docs/other-task.md": "theirs\n"},
            tool_calls=[("Read", {"file_path": greet}), ("Write", {"file_path": greet})],
        )
    )
    result = run(make_task(workdir), recorder)
    assert result.status == "succeeded", result.error
    assert result.unattributed_changes == ["docs/other-task.md"] and result.outside_writes == []
    assert (workdir / "docs" / "other-task.md").read_text() == "theirs\n"


def test_a_file_tool_write_outside_files_is_undone(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(
            writes={"app/greet.py": "ok\n", "outside.txt": "evil\n", "docs/theirs.md": "x\n"},
            tool_calls=[
                ("Write", {"file_path": "app/greet.py"}),
                ("Write", {"file_path": f"{workdir}/outside.txt"}),
            ],
        )
    )
    result = run(make_task(workdir), recorder)
    assert result.error_type == "write_outside_files" and result.outside_writes == ["outside.txt"]
    assert not (workdir / "outside.txt").exists()
    assert result.unattributed_changes == ["docs/theirs.md"]
    assert [(e["tool"], e["path"]) for e in recorder.of_type("tool_refused")] == [
        ("Write", "outside.txt")
    ]


def test_without_a_transcript_every_change_outside_files_counts(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(fake_claude.run(writes={"app/greet.py": "ok\n", "stray.txt": "x\n"}))
    result = run(make_task(workdir), recorder)
    assert result.error_type == "write_outside_files" and result.outside_writes == ["stray.txt"]
    assert not (workdir / "stray.txt").exists()


def test_cli_runs_with_an_explicit_permission_mode_and_no_retries_of_its_own(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(fake_claude.run())
    run(make_task(workdir), recorder)
    call = fake_claude.invocations[0]
    argv = call["argv"]
    assert argv[argv.index("--permission-mode") + 1] == "dontAsk"
    assert "--verbose" in argv and call["max_retries"] == "0"


def test_token_counts_are_the_sum_of_model_usage(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    output = result_json(
        input_tokens=1000,
        output_tokens=200,
        cache_write=0,
        cache_read=0,
        cost=0.000442,
        top_level_usage={"input_tokens": 0, "output_tokens": 0},
    )
    output["modelUsage"]["claude-haiku-4-5"] = {
        "inputTokens": 50,
        "outputTokens": 7,
        "cacheReadInputTokens": 3,
        "cacheCreationInputTokens": 2,
        "costUSD": 0.0001,
    }
    fake_claude.script(fake_claude.run(output=output))
    result = run(make_task(workdir), recorder)
    assert result.usage == Usage(1050, 207, 2, 3)
    event = recorder.of_type("model_call_completed")[0]
    assert (event["input_tokens"], event["output_tokens"]) == (1050, 207)


def test_overloaded_opus_falls_back_to_sonnet(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(is_error=True, result="API Error: 529 overloaded_error", cost=0.001),
        fake_claude.run(result="done", cost=0.01),
    )
    result = run(make_task(workdir), recorder)
    assert result.status == "succeeded" and result.model == SONNET
    models = [call["argv"][call["argv"].index("--model") + 1] for call in fake_claude.invocations]
    assert models == [OPUS, SONNET]
    assert result.cost_usd == Decimal("0.011")  # the failed run's cost is counted too
    assert recorder.of_type("fallback_triggered")[0]["reason"] == "overloaded"


def test_auth_error_fails_at_once(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(output="", stderr="Invalid API key · Please run /login", exit_code=1),
        fake_claude.run(),
    )
    result = run(make_task(workdir), recorder)
    assert result.status == "failed" and result.error_type == "auth"
    assert len(fake_claude.invocations) == 1 and recorder.sleeps == []


def test_max_turns_is_a_failure(fake_claude: FakeClaude, recorder: Recorder, workdir: Path) -> None:
    fake_claude.script(fake_claude.run(is_error=True, subtype="error_max_turns", result=""))
    result = run(make_task(workdir), recorder)
    assert result.status == "failed" and result.error_type == "max_turns"


def test_cost_over_the_limit_fails_with_the_cost(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(fake_claude.run(cost=0.75))
    result = run(make_task(workdir, cost_limit_usd=Decimal("0.50")), recorder)
    assert result.status == "failed" and result.error_type == "cost_limit_exceeded"
    assert result.cost_usd == Decimal("0.75")
    assert recorder.of_type("budget_exceeded")[0]["spent_usd"] == "0.75"


def test_no_money_left_does_not_start_claude(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    result = run(make_task(workdir, budget_allowance_usd=Decimal("0")), recorder)
    assert result.error_type == "budget_exceeded" and fake_claude.invocations == []


def test_permission_rules_from_files() -> None:
    allowed, disallowed = permission_rules(["a.py", "src/", "tests/**/*.py", "./b/c.txt"], False)
    assert allowed == [
        "Read", "Glob", "Grep", "LS",
        "Edit(a.py)", "Write(a.py)",
        "Edit(src/**)", "Write(src/**)",
        "Edit(tests/**/*.py)", "Write(tests/**/*.py)",
        "Edit(b/c.txt)", "Write(b/c.txt)",
    ]  # fmt: skip
    assert disallowed == ["Bash"]


def test_transcript_of_a_claude_code_run(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(fake_claude.run(result="All done.", cost=0.02))
    log = workdir.parent / "t1.log"
    run(make_task(workdir, log_path=log), recorder)
    lines = log.read_text().splitlines()
    assert lines[0].startswith(
        f"--- turn 1 · {OPUS} · 1200 in / 340 out / 15000 cache read · $0.02"
    )
    assert lines[1] == "assistant: All done."
    assert lines[-1] == "=== succeeded · $0.02"
