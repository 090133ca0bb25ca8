"""The agent executor: a tool-use loop over the Messages API, confined to the task's directory.

Each turn sends the conversation to the current model (through the failure policy: retries and
fallback), runs the tools the model asks for, and sends their results back. The loop stops at
`end_turn` (success), the turn limit, or money: before each call the input cost is estimated
and `max_tokens` is capped to what the remaining limit can pay for, so a call cannot overrun the
task's cost limit or the session's budget allowance by more than the estimate's error. A money
stop is a failure that carries the cost so far.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from buildrunner.executors.agent_types import (
    AgentResult,
    AgentTask,
    EventSink,
    PriceFunction,
    budget_exceeded_event,
    cost_limit,
)
from buildrunner.executors.ledger import AttemptLedger
from buildrunner.executors.tools import ToolBox
from buildrunner.executors.workspace import Workspace
from buildrunner.routing.failures import ModelCallError, RetryConfig, mask
from buildrunner.routing.providers import CallResult, ModelRequest, Provider, Usage
from buildrunner.routing.resilience import call_with_fallback, unique_models

__all__ = ["AgentResult", "AgentTask", "run_agent_task"]

log = logging.getLogger(__name__)

MIN_OUTPUT_TOKENS = 256  # below this a call cannot do useful work: stop instead
CHARS_PER_TOKEN = 3.0  # conservative (code tokenises denser than prose)
_CONTINUE = "Your reply was cut off by the output limit. Continue where you stopped."

SYSTEM_PROMPT = """\
You are an autonomous software engineer doing one task in a project directory.
Use the tools to inspect and change the project. Paths are relative to the project directory.
You may write only these paths: {files}. Writes elsewhere are refused.
{commands}
Write complete file contents with write_file. When the task is done, reply with a short summary \
of what you changed, without calling a tool."""


class _MoneyStop(Exception):
    """The next call cannot be paid for within the binding limit."""


def run_agent_task(
    task: AgentTask,
    *,
    provider: Provider,
    price: PriceFunction,
    on_event: EventSink,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryConfig | None = None,
    rand: Callable[[], float] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AgentResult:
    """Run the tool loop for one task attempt; never raises for model or tool failures."""
    loop = _AgentLoop(task, provider, price, on_event, clock, sleep, retry, rand, should_stop)
    try:
        return loop.run()
    except Exception as exc:  # a bug must fail the task, not the worker
        log.exception("agent task %s crashed", task.task_id)
        return loop.result("failed", "internal_error", mask(f"{type(exc).__name__}: {exc}"))


class _AgentLoop(AttemptLedger):
    def __init__(
        self,
        task: AgentTask,
        provider: Provider,
        price: PriceFunction,
        on_event: EventSink,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        retry: RetryConfig | None,
        rand: Callable[[], float] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        super().__init__(task, on_event)
        self.provider = provider
        self.price = price
        self.clock = clock
        self.sleep = sleep
        self.retry = retry or RetryConfig()
        self.rand = rand
        self.should_stop = should_stop
        self.chain = unique_models(task.models)
        self.index = 0
        self.tools = ToolBox(
            Workspace(task.workdir, task.files), task.allow_commands, on_refusal=self._refused
        )
        self.system = _system_prompt(task)
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": task.prompt}]
        self.last: CallResult | None = None

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> AgentResult:
        if not self.chain:
            return self.result("failed", "no_model", "no model was selected for this task")
        while True:
            if self.should_stop is not None and self.should_stop():
                return self.result("failed", "cancelled", "cancelled")
            if self.turns >= self.task.max_turns:
                return self.result(
                    "failed", "max_turns", f"stopped after {self.turns} turns without finishing"
                )
            try:
                answer = call_with_fallback(
                    self.chain[self.index :],
                    self._call,
                    config=self.retry,
                    on_event=self.emit,
                    sleep=self.sleep,
                    clock=self.clock,
                    rand=self.rand,
                    context_windows=self.task.context_windows,
                )
            except _MoneyStop as stop:
                return self._money_stop(str(stop))
            except ModelCallError as exc:
                return self.result("failed", exc.failure.type, mask(str(exc)))
            self.index += answer.index
            self.retries += answer.retries
            self.fallbacks += answer.fallbacks
            self._account(answer.value)
            outcome = self._handle(answer.value)
            if outcome is not None:
                return outcome

    def _handle(self, call: CallResult) -> AgentResult | None:
        """Record the answer and run its tools; a result when the loop is over."""
        self.messages.append({"role": "assistant", "content": call.content or _empty()})
        if call.text:
            self.final_text = call.text
        stop = call.stop_reason
        if stop == "refusal":
            return self.result("failed", "refusal", "the model declined the task")
        limit, _ = cost_limit(self.task)
        if call.tool_uses and limit is not None and self.spent >= limit:
            return self._money_stop(f"limit reached before running the tools of turn {self.turns}")
        results = [self._tool_result(block) for block in call.tool_uses]
        if results:
            self.messages.append({"role": "user", "content": results})
            return None
        if stop == "max_tokens":
            self.messages.append({"role": "user", "content": _CONTINUE})
            return None
        if stop == "pause_turn":
            return None  # the server paused a long turn; sending the conversation resumes it
        return self.result("succeeded", None, None)

    def _call(self, model: str) -> CallResult:
        request = ModelRequest(
            model=model,
            messages=_with_cache_breakpoint(self.messages),
            max_tokens=self._affordable_output(model),
            system=[{"type": "text", "text": self.system, "cache_control": {"type": "ephemeral"}}],
            tools=self.tools.schemas(),
        )
        return self.provider.complete(request)

    # -- money --------------------------------------------------------------------------------

    def _affordable_output(self, model: str) -> int:
        """`max_tokens` for the next call: the task's maximum, capped by what is left to spend."""
        wanted = self.task.max_output_tokens
        limit, _ = cost_limit(self.task)
        if limit is None:
            return wanted
        prompt = self._estimated_prompt()
        remaining = limit - self.spent - self.price(model, prompt)
        per_token = self.price(model, Usage(output_tokens=1_000_000)) / 1_000_000
        affordable = wanted if per_token <= 0 else int(remaining / per_token)
        if remaining <= 0 or affordable < MIN_OUTPUT_TOKENS:
            raise _MoneyStop(
                f"the next call to {model} would exceed the limit "
                f"(estimated input {prompt.prompt_tokens} tokens)"
            )
        return min(wanted, affordable)

    def _estimated_prompt(self) -> Usage:
        """Tokens the next request reads: the last prompt (cached) plus what was added since."""
        if self.last is None:
            chars = len(self.system) + len(json.dumps(self.messages))
            chars += len(json.dumps(self.tools.schemas()))
            return Usage(input_tokens=int(chars / CHARS_PER_TOKEN) + 1)
        usage = self.last.usage
        added = int(len(json.dumps(self.messages[-1])) / CHARS_PER_TOKEN) + 1 + usage.output_tokens
        if usage.cache_creation_tokens or usage.cache_read_tokens:
            # Caching works for this conversation: the repeated prefix will be a cache read.
            return Usage(input_tokens=added, cache_read_tokens=usage.prompt_tokens)
        return Usage(input_tokens=added + usage.prompt_tokens)

    def _account(self, call: CallResult) -> None:
        self.last = call
        self.record_call(call, self.price(call.model, call.usage), new_turns=1, turn=self.turns + 1)

    def _money_stop(self, detail: str) -> AgentResult:
        limit, kind = cost_limit(self.task)
        assert limit is not None
        what = "task cost limit" if kind == "cost_limit_exceeded" else "session budget allowance"
        self.emit(budget_exceeded_event(kind, limit, self.spent))
        message = (
            f"stopped: {what} ${limit} reached, spent ${self.spent} in {self.turns} turns; {detail}"
        )
        return self.result("failed", kind, message)

    # -- tools --------------------------------------------------------------------------------

    def _tool_result(self, block: Mapping[str, Any]) -> dict[str, Any]:
        tool_input = block.get("input")
        name = str(block.get("name"))
        if isinstance(tool_input, Mapping):
            text, is_error = self.tools.run(name, tool_input)
        else:
            tool_input, text, is_error = {}, "tool input must be an object", True
        self.transcript.tool(name, tool_input, text, is_error)
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block.get("id"),
            "content": text,
        }
        if is_error:
            result["is_error"] = True
        return result

    def _refused(self, tool: str, path: str, reason: str) -> None:
        log.warning("task %s: refused %s to %s", self.task.task_id, tool, path)
        self.emit(
            {"type": "tool_refused", "tool": tool, "path": mask(path), "reason": mask(reason)}
        )

    # -- result -------------------------------------------------------------------------------

    def result(self, status: str, error_type: str | None, error: str | None = None) -> AgentResult:
        model = (
            self.last.model
            if self.last is not None
            else (self.chain[self.index] if self.chain else "")
        )
        return self.finish(
            status, error_type, error, model=model, changed_files=self.tools.changed_files,
            refused_writes=self.tools.refused_writes, unattributed=self.tools.unattributed_changes,
        )


def _system_prompt(task: AgentTask) -> str:
    files = ", ".join(task.files) if task.files else "(none: this task may not write files)"
    commands = (
        "run_command runs shell commands in the project directory."
        if task.allow_commands
        else "Running commands is not available for this task."
    )
    return SYSTEM_PROMPT.format(files=files, commands=commands)


def _with_cache_breakpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of the conversation with one prompt-cache breakpoint on its last block.

    In a tool loop each request repeats the previous one plus a little; caching the prefix makes
    the repeated part cost a tenth of the input price.
    """
    copied = [dict(message) for message in messages]
    last = copied[-1]
    content = last["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    if blocks:
        blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
    last["content"] = blocks
    return copied


def _empty() -> list[dict[str, Any]]:
    return [{"type": "text", "text": "(no content)"}]
