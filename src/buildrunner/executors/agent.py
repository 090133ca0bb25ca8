"""The agent executor: a tool-use loop over the Messages API, confined to the task's directory.

A session (`start_agent_session`) sends the task's prompt with `run()` and, for each
`follow_up(text)`, a new user turn in the same conversation (same tools, same write scope). Each
turn sends the conversation to the current model (through the failure policy: retries and
fallback), runs the tools the model asks for, and sends their results back. A round ends at
`end_turn` (success), a refusal, the turn limit, money, or a write outside the task's files.
`max_tokens` asks the model to go on (a tool call cut mid-input is not run; the model is asked to
make it again) and `pause_turn` sends the paused turn back as it is.

Money: before each call the input cost is estimated and `max_tokens` is capped to what the
binding limit can still pay for; with a budget broker the call's worst case is reserved first and
the call is made only when the reservation is granted, then settled to the real cost (or released
when the call failed). A money stop is a failure that carries the cost so far.

Writes: the file tools refuse any path outside `files` before writing (the model is told and goes
on). What a `run_command` wrote outside `files` is undone and fails the round with error_type
`write_outside_files` (see `write_guard`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Unpack

from buildrunner.executors.agent_money import (
    MoneyStop,
    NextRequest,
    affordable_output,
    hold_within,
    output_within_worst_case,
)
from buildrunner.executors.agent_types import (
    AgentResult,
    AgentTask,
    EventSink,
    LoopOptions,
    PriceFunction,
    budget_exceeded_event,
    cost_limit,
)
from buildrunner.executors.ledger import AttemptLedger
from buildrunner.executors.reservations import ReservationRefused, hold, refused_event
from buildrunner.executors.tools import ToolBox
from buildrunner.executors.workspace import Workspace
from buildrunner.routing.failures import ModelCallError, mask
from buildrunner.routing.providers import CallResult, ModelRequest, Provider
from buildrunner.routing.resilience import unique_models

__all__ = ["AgentLoop", "AgentResult", "AgentTask", "run_agent_task", "start_agent_session"]

log = logging.getLogger(__name__)

_CONTINUE = "Your reply was cut off by the output limit. Continue where you stopped."
_CUT_TOOL = (
    "Your reply was cut off by the output limit while you were writing a call to {name}; that "
    "call was not run. Make it again, smaller if you can (edit_file changes part of a file)."
)
_NOT_RUN = "not run: the task stopped before this tool call"

SYSTEM_PROMPT = """\
You are an autonomous software engineer doing one task in a project directory.
Use the tools to inspect and change the project. Paths are relative to the project directory.
You may write only these paths: {files}. Writes elsewhere are refused.
{commands}
Write complete file contents with write_file. When the task is done, reply with a short summary \
of what you changed, without calling a tool."""


def start_agent_session(
    task: AgentTask,
    *,
    provider: Provider,
    price: PriceFunction,
    on_event: EventSink,
    **options: Unpack[LoopOptions],
) -> AgentLoop:
    """A conversation for one task attempt: `run()` first, then `follow_up(text)` as needed."""
    return AgentLoop(task, provider, price, on_event, options)


def run_agent_task(
    task: AgentTask,
    *,
    provider: Provider,
    price: PriceFunction,
    on_event: EventSink,
    **options: Unpack[LoopOptions],
) -> AgentResult:
    """Run the tool loop for one task attempt; never raises for model or tool failures."""
    return AgentLoop(task, provider, price, on_event, options).run()


@dataclass(frozen=True)
class _Priced:
    """A successful call, what it cost, and the reservation it was settled against."""

    call: CallResult
    cost: Decimal
    reservation_id: str | None


class AgentLoop(AttemptLedger):
    def __init__(
        self,
        task: AgentTask,
        provider: Provider,
        price: PriceFunction,
        on_event: EventSink,
        options: LoopOptions,
    ) -> None:
        super().__init__(task, on_event, options)
        self.provider = provider
        self.price = price
        self.chain = unique_models(task.models)
        self.index = 0
        self.tools = ToolBox(
            Workspace(task.workdir, task.files), task.allow_commands, on_refusal=self._refused
        )
        self.system = _system_prompt(task)
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": task.prompt}]
        self.last: CallResult | None = None
        self.sent_messages = 0

    # -- the session ------------------------------------------------------------------------

    def run(self) -> AgentResult:
        """The task prompt, until the model stops; never raises for model or tool failures."""
        if self.rounds:
            raise RuntimeError("run() starts the session once; use follow_up() to go on")
        self.start_round()
        return self._guarded()

    def follow_up(self, text: str) -> AgentResult:
        """A new user turn in the same conversation (same tools and write scope)."""
        if not self.rounds:
            raise RuntimeError("call run() before follow_up()")
        self.start_round(follow_up=text)
        self._add_user_text(text)
        return self._guarded()

    def _guarded(self) -> AgentResult:
        self.tools.new_round()
        try:
            return self._loop()
        except Exception as exc:  # a bug must fail the task, not the worker
            log.exception("agent task %s crashed", self.task.task_id)
            return self.result("failed", "internal_error", mask(f"{type(exc).__name__}: {exc}"))

    def _add_user_text(self, text: str) -> None:
        last = self.messages[-1]
        if last["role"] == "assistant":
            unanswered = [b for b in last["content"] if b.get("type") == "tool_use"]
            if unanswered:  # the round stopped before running them: answer, then speak
                self.messages.append({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": b.get("id"), "content": _NOT_RUN,
                     "is_error": True} for b in unanswered
                ]})  # fmt: skip
            else:
                self.messages.append({"role": "user", "content": text})
                return
        tail = self.messages[-1]
        content = tail["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        tail["content"] = [*blocks, {"type": "text", "text": text}]

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> AgentResult:
        if not self.chain:
            return self.result("failed", "no_model", "no model was selected for this task")
        while True:
            if self.should_stop is not None and self.should_stop():
                return self.result("failed", "cancelled", "cancelled")
            if self.round.turns >= self.task.max_turns:
                return self.result(
                    "failed",
                    "max_turns",
                    f"stopped after {self.round.turns} turns without finishing",
                )
            try:
                answer = self.call_models(self.chain[self.index :], self._call)
            except MoneyStop as stop:
                return self._money_stop(str(stop))
            except ReservationRefused as refusal:
                self.emit(refused_event(refusal, self.spent))
                return self.result(
                    "failed",
                    "budget_exceeded",
                    f"stopped: {refusal}; spent ${self.spent} in {self.round.turns} turns",
                )
            except ModelCallError as exc:
                return self.result("failed", exc.failure.type, mask(str(exc)))
            self.index += answer.index
            self._account(answer.value)
            outcome = self._handle(answer.value.call)
            if outcome is not None:
                return outcome

    def _handle(self, call: CallResult) -> AgentResult | None:
        """Record the answer and run its tools; a result when the round is over."""
        content = list(call.content)
        cut = None
        if call.stop_reason == "max_tokens" and content and content[-1].get("type") == "tool_use":
            cut = content.pop()  # its input was cut off: running it would act on half a call
        self.messages.append({"role": "assistant", "content": content or _empty()})
        if call.text:
            self.final_text = call.text
        stop = call.stop_reason
        if stop == "refusal":
            return self.result("failed", "refusal", "the model declined the task")
        tool_uses = [block for block in content if block.get("type") == "tool_use"]
        limit, _ = cost_limit(self.task)
        if tool_uses and limit is not None and self.spent >= limit:
            return self._money_stop(f"limit reached before running the tools of turn {self.turns}")
        results = [self._tool_result(block) for block in tool_uses]
        if self.tools.outside_writes:
            self.messages.append({"role": "user", "content": results})
            paths = ", ".join(write.path for write in self.tools.outside_writes)
            return self.result(
                "failed",
                "write_outside_files",
                mask(f"wrote outside the task's files: {paths} (undone)"),
            )
        note = None
        if stop == "max_tokens":
            note = _CONTINUE if cut is None else _CUT_TOOL.format(name=cut.get("name"))
        if results or note:
            notes = [{"type": "text", "text": note}] if note else []
            self.messages.append({"role": "user", "content": [*results, *notes]})
            return None
        if stop == "pause_turn":
            return None  # the server paused a long turn; sending the conversation resumes it
        return self.result("succeeded", None, None)

    @property
    def turns(self) -> int:
        return self.total.turns

    def _call(self, model: str) -> _Priced:
        upcoming = NextRequest(
            self.system, self.messages, self.tools.schemas(), self.last, self.sent_messages
        )
        max_tokens = affordable_output(
            self.task, model, self.price, self.spent, upcoming.estimated_prompt()
        )
        if self.task.budget is not None:
            prompt_tokens = upcoming.worst_case_prompt_tokens()
            max_tokens = output_within_worst_case(
                self.task, model, self.price, self.spent, prompt_tokens, max_tokens
            )
            held, max_tokens = hold_within(
                self.task.budget, model, self.price, prompt_tokens, max_tokens
            )
        else:
            held = hold(None, model, Decimal(0))
        request = ModelRequest(
            model=model,
            messages=_with_cache_breakpoint(self.messages),
            max_tokens=max_tokens,
            system=[{"type": "text", "text": self.system, "cache_control": {"type": "ephemeral"}}],
            tools=self.tools.schemas(),
        )
        try:
            call = self.provider.complete(request)
        except BaseException:
            held.release()
            raise
        try:
            cost = self.price(call.model, call.usage)
        except Exception:
            held.settle(held.amount)  # it was paid for; what it cost is not known
            raise
        held.settle(cost)
        self.sent_messages = len(self.messages)
        return _Priced(call, cost, held.reservation_id)

    # -- money --------------------------------------------------------------------------------

    def _account(self, priced: _Priced) -> None:
        self.last = priced.call
        extra: dict[str, Any] = {"turn": self.turns + 1}
        if priced.reservation_id is not None:
            extra["reservation_id"] = priced.reservation_id
        self.record_call(priced.call, priced.cost, new_turns=1, **extra)

    def _money_stop(self, detail: str) -> AgentResult:
        limit, kind = cost_limit(self.task)
        assert limit is not None
        what = "task cost limit" if kind == "cost_limit_exceeded" else "session budget allowance"
        self.emit(budget_exceeded_event(kind, limit, self.spent))
        message = f"stopped: {what} ${limit} reached, spent ${self.spent} in {self.round.turns} turns; {detail}"
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
            status,
            error_type,
            error,
            model=model,
            changed_files=self.tools.changed_files,
            refused_writes=self.tools.refused_writes,
            outside_writes=[write.path for write in self.tools.outside_writes],
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
