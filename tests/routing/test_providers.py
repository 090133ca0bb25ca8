"""Providers against real things: the SDK talking HTTP to a local fake server, a fake `claude` CLI."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.config import RoutingSettings
from buildrunner.errors import ConfigError
from buildrunner.routing.failures import MissingCredentialsError, ModelCallError
from buildrunner.routing.providers import ModelRequest, Provider, Usage, create_provider
from buildrunner.routing.providers.anthropic import AnthropicProvider
from buildrunner.routing.providers.claude_code import (
    ClaudeCodeProvider,
    CliRequest,
    parse_result,
)
from tests.fakes import messages_server as api
from tests.fakes.fake_claude import FakeClaude, result_json
from tests.fakes.messages_server import MessagesServer, running_server

MODEL = "claude-sonnet-test"


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    yield from running_server()


@pytest.fixture
def provider(server: MessagesServer) -> AnthropicProvider:
    return AnthropicProvider("sk-test-not-a-real-key", base_url=server.base_url, timeout_s=0.5)


def ask(provider: Provider, text: str = "hi", **options: object) -> ModelRequest:
    request = ModelRequest(model=MODEL, messages=[{"role": "user", "content": text}], **options)  # type: ignore[arg-type]
    return request


def failure_of(provider: Provider, request: ModelRequest) -> ModelCallError:
    with pytest.raises(ModelCallError) as raised:
        provider.complete(request)
    return raised.value


# -- anthropic ------------------------------------------------------------------------------


def test_anthropic_call_returns_content_usage_and_model(
    server: MessagesServer, provider: AnthropicProvider
) -> None:
    server.script(
        api.tool_use(
            "read_file",
            {"path": "a.py"},
            say="let me look",
            input_tokens=321,
            output_tokens=45,
            cache_write=1000,
            cache_read=2000,
            model="claude-sonnet-test-20250101",
        )
    )
    tools = [{"name": "read_file", "input_schema": {"type": "object"}}]
    result = provider.complete(ask(provider, system="be brief", tools=tools, max_tokens=77))
    assert result.model == MODEL and result.response_model == "claude-sonnet-test-20250101"
    assert result.usage == Usage(321, 45, 1000, 2000)
    assert result.stop_reason == "tool_use"
    assert result.text == "let me look"
    assert result.tool_uses[0]["name"] == "read_file"
    assert result.tool_uses[0]["input"] == {"path": "a.py"}
    assert result.latency_ms >= 0
    sent = server.requests[0]
    assert sent.model == MODEL and sent.body["max_tokens"] == 77
    assert sent.body["system"] == "be brief" and sent.body["tools"] == tools
    assert sent.api_key == "sk-test-not-a-real-key"


def test_sdk_retries_are_off(server: MessagesServer, provider: AnthropicProvider) -> None:
    server.script(api.server_error(), api.text("too late"))
    error = failure_of(provider, ask(provider))
    assert error.failure.type == "server_error" and error.failure.status_code == 500
    assert len(server.requests) == 1  # the SDK did not retry on its own


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (api.rate_limited(retry_after=2), "rate_limited", 429),
        (api.overloaded(), "overloaded", 529),
        (api.server_error(), "server_error", 500),
        (api.context_too_long(), "context_too_long", 400),
        (api.invalid_request(), "invalid_request", 400),
        (api.unauthorized(), "auth", 401),
        (api.error(403, "permission_error", "no access"), "auth", 403),
        (api.error(404, "not_found_error", "model: nope"), "not_found", 404),
    ],
)
def test_http_errors_are_classified(
    server: MessagesServer, provider: AnthropicProvider, reply: api.Reply, kind: str, status: int
) -> None:
    server.script(reply)
    error = failure_of(provider, ask(provider))
    assert (error.failure.type, error.failure.status_code) == (kind, status)
    assert error.model == MODEL


def test_retry_after_header_reaches_the_failure(
    server: MessagesServer, provider: AnthropicProvider
) -> None:
    server.script(api.rate_limited(retry_after=2))
    assert failure_of(provider, ask(provider)).failure.retry_after_s == 2.0


def test_slow_answer_is_a_timeout(server: MessagesServer, provider: AnthropicProvider) -> None:
    server.script(api.slow(api.text("late"), 5.0))
    assert failure_of(provider, ask(provider)).failure.type == "timeout"


def test_unreachable_endpoint_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens
    provider = AnthropicProvider("sk-test", base_url=f"http://127.0.0.1:{port}", timeout_s=2)
    assert failure_of(provider, ask(provider)).failure.type == "connection"


def test_from_settings_needs_a_key() -> None:
    with pytest.raises(MissingCredentialsError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider.from_settings(RoutingSettings(), {})


def test_key_from_environment_and_base_url_from_settings(server: MessagesServer) -> None:
    server.script(api.text("ok"))
    settings = RoutingSettings(base_url=server.base_url, api_key="sk-from-config")
    provider = create_provider("anthropic", settings, {"ANTHROPIC_API_KEY": "sk-from-env"})
    assert provider.complete(ask(provider)).text == "ok"
    assert server.requests[0].api_key == "sk-from-env"


def test_base_url_from_environment_and_key_from_settings(server: MessagesServer) -> None:
    server.script(api.text("ok"))
    environ = {"ANTHROPIC_BASE_URL": server.base_url}
    provider = create_provider("anthropic", RoutingSettings(api_key="sk-config"), environ)
    assert provider.complete(ask(provider)).text == "ok"
    assert server.requests[0].api_key == "sk-config"


def test_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown provider"):
        create_provider("openai", RoutingSettings(), {})


# -- claude code ----------------------------------------------------------------------------


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeClaude:
    return FakeClaude.install(tmp_path, monkeypatch)


def cli_request(workdir: Path, **options: object) -> CliRequest:
    return CliRequest(prompt="Add a docstring", model=MODEL, workdir=workdir, **options)  # type: ignore[arg-type]


def test_claude_code_parses_usage_cost_and_turns(fake_claude: FakeClaude, tmp_path: Path) -> None:
    fake_claude.script(fake_claude.run(result="Added it.", cost=0.0421, num_turns=4))
    provider = ClaudeCodeProvider(env=None)
    result = provider.run(
        cli_request(
            tmp_path,
            max_turns=7,
            allowed_tools=["Read", "Edit(app.py)"],
            disallowed_tools=["Bash"],
            append_system_prompt="scope",
        )
    )
    assert result.text == "Added it." and result.stop_reason == "end_turn"
    assert result.usage == Usage(1200, 340, 2000, 15000)
    assert result.reported_cost_usd == Decimal("0.0421")
    assert result.turns == 4 and result.response_model == "claude-sonnet-4-5"
    call = fake_claude.invocations[0]
    assert call["stdin"] == "Add a docstring" and call["cwd"] == str(tmp_path)
    argv = call["argv"]
    assert argv[:9] == [
        "-p", "--output-format", "json", "--verbose", "--model", MODEL,
        "--permission-mode", "dontAsk", "--max-turns",
    ]  # fmt: skip
    assert call["max_retries"] == "0"  # the CLI's own retries are off: ours are the only ones
    assert argv[argv.index("--allowedTools") + 1] == "Read,Edit(app.py)"
    assert argv[argv.index("--disallowedTools") + 1] == "Bash"
    assert argv[argv.index("--append-system-prompt") + 1] == "scope"


@pytest.mark.parametrize(
    ("words", "status"),
    [
        ('API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}', None),
        ("API Error: something odd", 529),
    ],  # the status the CLI reports wins over its words
)
def test_claude_code_api_error_is_classified_and_keeps_the_cost(
    fake_claude: FakeClaude, tmp_path: Path, words: str, status: int | None
) -> None:
    fake_claude.script(
        fake_claude.run(is_error=True, result=words, cost=0.002, api_error_status=status)
    )
    with pytest.raises(ModelCallError) as raised:
        ClaudeCodeProvider().run(cli_request(tmp_path))
    assert raised.value.failure.type == "overloaded"
    partial = raised.value.partial
    assert partial is not None and partial.reported_cost_usd == Decimal("0.002")  # type: ignore[attr-defined]


def test_claude_code_resume_and_budget_flags(fake_claude: FakeClaude, tmp_path: Path) -> None:
    fake_claude.script(fake_claude.run(is_error=True, subtype="error_max_budget_usd", result=""))
    result = ClaudeCodeProvider().run(
        cli_request(
            tmp_path,
            resume_session="abc",
            max_budget_usd=Decimal("0.25"),
            permission_mode="default",
        )
    )
    assert result.stop_reason == "max_budget"
    argv = fake_claude.invocations[0]["argv"]
    assert argv[argv.index("--resume") + 1] == "abc"
    assert argv[argv.index("--max-budget-usd") + 1] == "0.25"
    assert argv[argv.index("--permission-mode") + 1] == "default"


def test_claude_code_verbose_output_lists_the_tool_calls(
    fake_claude: FakeClaude, tmp_path: Path
) -> None:
    fake_claude.script(
        fake_claude.run(tool_calls=[("Read", {"file_path": "a"}), ("Bash", {"command": "ls"})])
    )
    result = ClaudeCodeProvider().run(cli_request(tmp_path))
    assert result.extra["tool_calls"] == [
        {"name": "Read", "input": {"file_path": "a"}},
        {"name": "Bash", "input": {"command": "ls"}},
    ]
    assert result.extra["session_id"] == "0b7c9c1e-5a34-4a51-9a2b-1f3c2d4e5f60"


def test_claude_code_max_turns_is_a_result_not_an_error(
    fake_claude: FakeClaude, tmp_path: Path
) -> None:
    fake_claude.script(fake_claude.run(is_error=True, subtype="error_max_turns", result=""))
    result = ClaudeCodeProvider().run(cli_request(tmp_path))
    assert result.stop_reason == "max_turns"


def test_claude_code_without_json_is_classified_from_stderr(
    fake_claude: FakeClaude, tmp_path: Path
) -> None:
    fake_claude.script(
        fake_claude.run(output="", stderr="Invalid API key · Please run /login", exit_code=1)
    )
    with pytest.raises(ModelCallError) as raised:
        ClaudeCodeProvider().run(cli_request(tmp_path))
    assert raised.value.failure.type == "auth"


def test_claude_code_timeout(fake_claude: FakeClaude, tmp_path: Path) -> None:
    fake_claude.script(fake_claude.run(sleep_s=30))
    with pytest.raises(ModelCallError) as raised:
        ClaudeCodeProvider().run(cli_request(tmp_path, timeout_s=0.5))
    assert raised.value.failure.type == "timeout"


def test_claude_code_missing_executable(tmp_path: Path) -> None:
    provider = ClaudeCodeProvider(executable=str(tmp_path / "no-such-claude"))
    with pytest.raises(ModelCallError, match="cannot start"):
        provider.run(cli_request(tmp_path))


def test_claude_code_from_settings_passes_key_and_base_url(
    fake_claude: FakeClaude, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_claude.script(fake_claude.run())
    monkeypatch.chdir(tmp_path)
    settings = RoutingSettings(api_key="sk-config", base_url="http://127.0.0.1:9")
    environ = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    provider = create_provider("claude-code", settings, environ)
    assert provider.complete(ask(provider, "one answer")).text == "done"
    call = fake_claude.invocations[0]
    assert call["env_key"] == "sk-config" and call["stdin"] == "one answer"
    assert "--max-turns" in call["argv"]


def test_parse_result_finds_the_result_line() -> None:
    noisy = "warming up\n" + '{"type": "system"}\n' + '{"type": "result", "result": "x"}\n'
    assert parse_result(noisy) == {"type": "result", "result": "x"}
    assert parse_result("not json") is None
    verbose = json.dumps(
        [{"type": "system"}, {"type": "assistant"}, {"type": "result", "result": "y"}]
    )
    assert parse_result(verbose) == {"type": "result", "result": "y"}
    whole = parse_result(json.dumps(result_json(cost=0.5), indent=2))
    assert whole is not None and whole["total_cost_usd"] == 0.5


def test_claude_code_run_stops_when_asked(fake_claude: FakeClaude, tmp_path: Path) -> None:
    fake_claude.script(fake_claude.run(sleep_s=30))
    asked = iter([False, True])  # the cancel arrives while the CLI runs
    with pytest.raises(ModelCallError, match="cancelled"):
        ClaudeCodeProvider().run(cli_request(tmp_path, should_stop=lambda: next(asked, True)))
