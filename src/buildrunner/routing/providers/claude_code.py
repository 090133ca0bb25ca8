"""Claude Code run headless: `claude -p --output-format json --verbose --model M ...`, prompt on stdin.

The CLI is an agent itself (it reads, edits and runs tools in its working directory), so one
`run` is a whole agent session; `--resume SESSION` goes on with one. With `--verbose` the JSON
output is the list of the session's messages ending with the result, which carries the answer,
per-model token usage (`modelUsage`, what the CLI's `total_cost_usd` is computed from; the
top-level `usage` can disagree with it and is used only when `modelUsage` is missing), the
number of turns, the session id and any permission denials. The messages show which tools the
CLI called. API failures are classified from the HTTP status the CLI reports
(`api_error_status`), else from its words ("API Error: 529 ...").

The CLI is always run with an explicit `--permission-mode` (default `dontAsk`: a tool not allowed
by the rules is denied, whatever a repository's `.claude/settings.json` asks for) and with
`CLAUDE_CODE_MAX_RETRIES=0`, so br's failure policy is the only one that retries.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.process import kill_process_group
from buildrunner.routing.failures import Failure, ModelCallError, classify_status, classify_text
from buildrunner.routing.providers import CallResult, ModelRequest, Usage

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings

EXECUTABLE = "claude"
_OUTPUT_LIMIT = 2000  # characters of stderr kept in an error message
PERMISSION_MODE = "dontAsk"  # deny what the rules do not allow; never prompt, never widen
FORCED_ENVIRONMENT = {"CLAUDE_CODE_MAX_RETRIES": "0"}  # our retry policy is the only one
# Result subtypes that end a run normally (not an API failure) -> our stop reason.
_STOP_SUBTYPES = {"error_max_turns": "max_turns", "error_max_budget_usd": "max_budget"}


@dataclass(frozen=True)
class CliRequest:
    """One headless Claude Code run."""

    prompt: str
    model: str
    workdir: Path
    allowed_tools: Sequence[str] = ()
    disallowed_tools: Sequence[str] = ()
    max_turns: int | None = None
    append_system_prompt: str | None = None
    timeout_s: float | None = None
    permission_mode: str = PERMISSION_MODE
    resume_session: str | None = None  # go on with this session (`--resume`)
    max_budget_usd: Decimal | None = None  # the CLI stops the run once it has spent this much
    extra_args: Sequence[str] = field(default_factory=tuple)
    should_stop: Callable[[], bool] | None = field(default=None, compare=False)  # e.g. a cancel


class ClaudeCodeProvider:
    """Runs the `claude` CLI; `run` for agent sessions, `complete` for a single answer."""

    name = "claude-code"

    def __init__(
        self,
        *,
        executable: str = EXECUTABLE,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.executable = executable
        self._env = {**(os.environ if env is None else env), **FORCED_ENVIRONMENT}
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: RoutingSettings, environ: Mapping[str, str]
    ) -> ClaudeCodeProvider:
        env = dict(environ)
        # The CLI has its own login; a configured key or endpoint is passed on when set.
        if settings.api_key and not env.get("ANTHROPIC_API_KEY"):
            env["ANTHROPIC_API_KEY"] = settings.api_key
        if settings.base_url:
            env["ANTHROPIC_BASE_URL"] = settings.base_url
        return cls(env=env)

    def command(self, request: CliRequest) -> list[str]:
        """The argv for a run (the prompt goes on stdin, so it never hits argv limits)."""
        argv = [
            self.executable,
            "-p",
            "--output-format",
            "json",
            "--verbose",
            "--model",
            request.model,
            "--permission-mode",
            request.permission_mode,
        ]
        if request.resume_session:
            argv += ["--resume", request.resume_session]
        if request.max_turns is not None:
            argv += ["--max-turns", str(request.max_turns)]
        if request.max_budget_usd is not None:
            argv += ["--max-budget-usd", str(request.max_budget_usd)]
        if request.append_system_prompt:
            argv += ["--append-system-prompt", request.append_system_prompt]
        if request.allowed_tools:
            argv += ["--allowedTools", ",".join(request.allowed_tools)]
        if request.disallowed_tools:
            argv += ["--disallowedTools", ",".join(request.disallowed_tools)]
        return [*argv, *request.extra_args]

    def complete(self, request: ModelRequest) -> CallResult:
        """A single answer without tools: the last user message is the prompt."""
        prompt = _last_user_text(request.messages)
        system = request.system if isinstance(request.system, str) else None
        return self.run(
            CliRequest(prompt, request.model, Path.cwd(), max_turns=1, append_system_prompt=system)
        )

    def _wait(
        self, process: subprocess.Popen[str], request: CliRequest, started: float
    ) -> tuple[str, str]:
        """Feed the prompt and wait, stopping the whole group on a timeout or `should_stop`."""
        prompt: str | None = request.prompt
        while True:
            wait = 0.5 if request.should_stop is not None else None
            if request.timeout_s is not None:
                left = max(0.0, started + request.timeout_s - self._clock())
                wait = left if wait is None else min(wait, left)
            try:
                return process.communicate(prompt, timeout=wait)
            except subprocess.TimeoutExpired:
                prompt = None  # sent with the first call; later calls only wait
                timed_out = (
                    request.timeout_s is not None and self._clock() - started >= request.timeout_s
                )
                stopped = request.should_stop is not None and request.should_stop()
                if timed_out or stopped:
                    kill_process_group(process.pid)
                    process.communicate()
                    reason = (
                        f"claude did not finish within {request.timeout_s:g}s"
                        if timed_out
                        else "stopped: the task was cancelled"
                    )
                    failure = Failure("timeout" if timed_out else "unknown", reason)
                    raise ModelCallError(failure, request.model) from None

    def run(self, request: CliRequest) -> CallResult:
        """Run the CLI to completion; raise `ModelCallError` when it reports a failure."""
        started = self._clock()
        try:
            process = subprocess.Popen(
                self.command(request),
                cwd=request.workdir,
                env=self._env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # own process group: a timeout kills its tools too
            )
        except OSError as exc:
            reason = f"cannot start '{self.executable}': {exc.strerror or exc}"
            raise ModelCallError(Failure("unknown", reason), request.model) from None
        stdout, stderr = self._wait(process, request, started)
        latency_ms = (self._clock() - started) * 1000.0
        data, messages = parse_output(stdout)
        if data is None:
            text = (stderr or stdout or f"exit code {process.returncode}").strip()
            failure = classify_text(text[-_OUTPUT_LIMIT:])
            raise ModelCallError(failure, request.model)
        result = to_call_result(data, request.model, latency_ms, messages)
        subtype = str(data.get("subtype", ""))
        if data.get("is_error") and subtype not in _STOP_SUBTYPES:
            message = str(data.get("result") or subtype or "claude reported an error")
            status = data.get("api_error_status")
            failure = (
                classify_status(status, message)
                if isinstance(status, int) and status >= 400
                else classify_text(message)
            )
            raise ModelCallError(failure, request.model, partial=result)
        return result


def parse_output(stdout: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    """The CLI's result object and, when it printed them (`--verbose`), the session's messages.

    The result is the whole output, the last JSON line with type 'result', or the last such
    element of a JSON array (the shape `--verbose` prints); messages are None when the output
    held no list of them.
    """
    text = stdout.strip()
    for candidate in [text, *reversed(text.splitlines())]:
        if not candidate.startswith(("{", "[")):
            continue
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        items = value if isinstance(value, list) else [value]
        for item in reversed(items):
            if isinstance(item, dict) and item.get("type") == "result":
                messages = [i for i in items if isinstance(i, dict)] if len(items) > 1 else None
                return item, messages
    return None, None


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The CLI's result object (see `parse_output`)."""
    return parse_output(stdout)[0]


def tool_calls(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every tool call in the session's assistant messages: {"name", "input"}."""
    calls: list[dict[str, Any]] = []
    for item in messages:
        message = item.get("message") if item.get("type") == "assistant" else None
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                calls.append({"name": str(block.get("name")), "input": block.get("input") or {}})
    return calls


def model_usage(data: Mapping[str, Any]) -> Usage:
    """Tokens of a run: the sum of the per-model `modelUsage` (what the cost is based on), or
    the top-level `usage` when the CLI gave no per-model figures."""
    per_model = data.get("modelUsage")
    if isinstance(per_model, dict) and per_model:
        total = Usage()
        for figures in per_model.values():
            if isinstance(figures, dict):
                total = total + Usage(
                    input_tokens=_int(figures.get("inputTokens")),
                    output_tokens=_int(figures.get("outputTokens")),
                    cache_creation_tokens=_int(figures.get("cacheCreationInputTokens")),
                    cache_read_tokens=_int(figures.get("cacheReadInputTokens")),
                )
        return total
    usage = data.get("usage") or {}
    return Usage(
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        cache_creation_tokens=_int(usage.get("cache_creation_input_tokens")),
        cache_read_tokens=_int(usage.get("cache_read_input_tokens")),
    )


def to_call_result(
    data: Mapping[str, Any],
    model: str,
    latency_ms: float,
    messages: Sequence[Mapping[str, Any]] | None = None,
) -> CallResult:
    """Map the CLI's JSON result (and the session's messages, if printed) onto a `CallResult`."""
    subtype = str(data.get("subtype", ""))
    cost = _decimal(data.get("total_cost_usd"))
    text = str(data.get("result") or "")
    answered_by = list((data.get("modelUsage") or {}).keys())
    return CallResult(
        model=model,
        content=[{"type": "text", "text": text}] if text else [],
        stop_reason=_STOP_SUBTYPES.get(subtype, "end_turn"),
        usage=model_usage(data),
        latency_ms=latency_ms,
        response_model=model if model in answered_by else (answered_by[0] if answered_by else None),
        reported_cost_usd=cost,
        turns=max(1, _int(data.get("num_turns"))),
        extra={
            "session_id": data.get("session_id"),
            "subtype": subtype,
            "is_error": bool(data.get("is_error")),
            "permission_denials": list(data.get("permission_denials") or []),
            "duration_ms": data.get("duration_ms"),
            "api_error_status": data.get("api_error_status"),
            # None when the CLI printed no messages: which tools ran is then unknown.
            "tool_calls": None if messages is None else tool_calls(messages),
        },
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(block.get("text", "")) for block in content if block.get("type") == "text"
            )
    return ""
