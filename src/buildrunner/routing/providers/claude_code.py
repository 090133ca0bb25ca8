"""Claude Code run headless: `claude -p --output-format json --model M ...`, prompt on stdin.

The CLI is an agent itself (it reads, edits and runs tools in its working directory), so one
`run` is a whole agent session; its JSON result carries the answer, token usage (including cache
tokens), the CLI's own `total_cost_usd`, the number of turns, and any permission denials.
API failures the CLI reports in words ("API Error: 529 ...") are classified like HTTP errors.
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
from buildrunner.routing.failures import Failure, ModelCallError, classify_text
from buildrunner.routing.providers import CallResult, ModelRequest, Usage

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings

EXECUTABLE = "claude"
_OUTPUT_LIMIT = 2000  # characters of stderr kept in an error message


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
        self._env = dict(os.environ if env is None else env)
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
        argv = [self.executable, "-p", "--output-format", "json", "--model", request.model]
        if request.max_turns is not None:
            argv += ["--max-turns", str(request.max_turns)]
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
                    request.timeout_s is not None
                    and self._clock() - started >= request.timeout_s
                )
                stopped = request.should_stop is not None and request.should_stop()
                if timed_out or stopped:
                    kill_process_group(process.pid)
                    process.communicate()
                    reason = (
                        f"claude did not finish within {request.timeout_s:g}s" if timed_out
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
        data = parse_result(stdout)
        if data is None:
            text = (stderr or stdout or f"exit code {process.returncode}").strip()
            failure = classify_text(text[-_OUTPUT_LIMIT:])
            raise ModelCallError(failure, request.model)
        result = to_call_result(data, request.model, latency_ms)
        subtype = str(data.get("subtype", ""))
        if data.get("is_error") and subtype != "error_max_turns":
            message = str(data.get("result") or subtype or "claude reported an error")
            raise ModelCallError(classify_text(message), request.model, partial=result)
        return result


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The CLI's result object: the whole output, the last JSON line with type 'result', or the
    last such element of a JSON array (the shape `--verbose` prints)."""
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
                return item
    return None


def to_call_result(data: Mapping[str, Any], model: str, latency_ms: float) -> CallResult:
    """Map the CLI's JSON result onto a `CallResult`."""
    usage = data.get("usage") or {}
    subtype = str(data.get("subtype", ""))
    cost = _decimal(data.get("total_cost_usd"))
    text = str(data.get("result") or "")
    stop_reason = "max_turns" if subtype == "error_max_turns" else "end_turn"
    answered_by = list((data.get("modelUsage") or {}).keys())
    return CallResult(
        model=model,
        content=[{"type": "text", "text": text}] if text else [],
        stop_reason=stop_reason,
        usage=Usage(
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            cache_creation_tokens=_int(usage.get("cache_creation_input_tokens")),
            cache_read_tokens=_int(usage.get("cache_read_input_tokens")),
        ),
        latency_ms=latency_ms,
        response_model=answered_by[0] if answered_by else None,
        reported_cost_usd=cost,
        turns=max(1, _int(data.get("num_turns"))),
        extra={
            "session_id": data.get("session_id"),
            "subtype": subtype,
            "is_error": bool(data.get("is_error")),
            "permission_denials": list(data.get("permission_denials") or []),
            "duration_ms": data.get("duration_ms"),
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
