"""The Claude Code executor: one headless `claude -p` run per attempt, scoped to the task's files.

Claude Code runs its own tool loop, so this executor only decides what it may do: read tools
always, edits only on the declared `files` (as `Edit(...)`/`Write(...)` permission rules), `Bash`
only when the task allows commands. Writes the CLI was denied come back as `permission_denials`
and are reported as refused writes. What changed is found by comparing the working directory
before and after the run; changes outside `files` are reported, not claimed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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
from buildrunner.executors.workspace import Workspace, changed_between, normalise
from buildrunner.routing.failures import ModelCallError, RetryConfig, mask
from buildrunner.routing.providers import CallResult
from buildrunner.routing.providers.claude_code import ClaudeCodeProvider, CliRequest
from buildrunner.routing.resilience import call_with_fallback, unique_models

__all__ = ["AgentResult", "AgentTask", "permission_rules", "run_claude_code_task"]

log = logging.getLogger(__name__)

READ_TOOLS = ("Read", "Glob", "Grep", "LS")
WRITE_TOOLS = ("Edit", "Write")  # Edit rules also cover MultiEdit and NotebookEdit
_WRITE_TOOL_NAMES = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})

SCOPE_PROMPT = (
    "You are running unattended as one task of a build. Only these paths may be written: {files}. "
    "Do not try to write anything else; such writes are denied."
)


def permission_rules(files: Sequence[str], allow_commands: bool) -> tuple[list[str], list[str]]:
    """(allowed, disallowed) tool rules for the CLI from the task's files."""
    allowed = list(READ_TOOLS)
    for raw in files:
        entry = normalise(raw)
        pattern = entry + "**" if entry.endswith("/") else entry
        if entry in (".", "./"):
            pattern = "**"
        allowed += [f"{tool}({pattern})" for tool in WRITE_TOOLS]
    if allow_commands:
        return [*allowed, "Bash"], []
    return allowed, ["Bash"]


def run_claude_code_task(
    task: AgentTask,
    *,
    provider: ClaudeCodeProvider,
    price: PriceFunction,
    on_event: EventSink,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    retry: RetryConfig | None = None,
    rand: Callable[[], float] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AgentResult:
    """Run the task with Claude Code; never raises for CLI or model failures."""
    run = _ClaudeCodeRun(task, provider, price, on_event, should_stop)
    chain = unique_models(task.models)
    if not chain:
        return run.result("failed", "no_model", "no model was selected for this task")
    limit, kind = cost_limit(task)
    if limit is not None and limit <= 0:
        return run.result("failed", kind, f"no money left for this task (limit ${limit})")
    before = run.workspace.snapshot()
    try:
        answer = call_with_fallback(
            chain,
            run.attempt,
            config=retry,
            on_event=run.emit,
            sleep=sleep,
            clock=clock,
            rand=rand,
            context_windows=task.context_windows,
        )
    except ModelCallError as exc:
        run.collect_changes(before)
        return run.result("failed", exc.failure.type, mask(str(exc)))
    except Exception as exc:  # a bug must fail the task, not the worker
        log.exception("claude-code task %s crashed", task.task_id)
        return run.result("failed", "internal_error", mask(f"{type(exc).__name__}: {exc}"))
    run.collect_changes(before)
    run.retries, run.fallbacks = answer.retries, answer.fallbacks
    call = answer.value
    if limit is not None and run.spent > limit:
        # The CLI cannot be stopped mid-run at a cost; report the overrun as a money failure.
        run.emit(budget_exceeded_event(kind, limit, run.spent))
        return run.result("failed", kind, f"spent ${run.spent}, over the limit of ${limit}")
    if call.stop_reason == "max_turns":
        return run.result("failed", "max_turns", f"stopped after {call.turns} turns")
    return run.result("succeeded", None, None)


class _ClaudeCodeRun(AttemptLedger):
    """One attempt: the ledger, plus what the CLI changed or was refused."""

    def __init__(
        self,
        task: AgentTask,
        provider: ClaudeCodeProvider,
        price: PriceFunction,
        emit: EventSink,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(task, emit)
        self.should_stop = should_stop
        self.provider = provider
        self.price = price
        self.workspace = Workspace(task.workdir, task.files)
        self.model = task.models[0] if task.models else ""
        self.changed_files: list[str] = []
        self.unattributed: list[str] = []
        self.refused: list[str] = []

    def attempt(self, model: str) -> CallResult:
        allowed, disallowed = permission_rules(self.task.files, self.task.allow_commands)
        files = ", ".join(self.task.files) or "(none)"
        request = CliRequest(
            prompt=self.task.prompt,
            model=model,
            workdir=self.workspace.root,
            allowed_tools=allowed,
            disallowed_tools=disallowed,
            max_turns=self.task.max_turns,
            append_system_prompt=SCOPE_PROMPT.format(files=files),
            timeout_s=self.task.timeout_s,
            should_stop=self.should_stop,
        )
        try:
            call = self.provider.run(request)
        except ModelCallError as exc:
            if isinstance(exc.partial, CallResult):
                self.account(exc.partial, outcome="error")  # a failed run may still have cost
            raise
        self.account(call, outcome="success")
        return call

    def account(self, call: CallResult, *, outcome: str) -> None:
        cost = (
            call.reported_cost_usd
            if call.reported_cost_usd is not None
            else self.price(call.model, call.usage)
        )
        self.model = call.model
        if call.text:
            self.final_text = call.text
        self.record_call(call, cost, new_turns=call.turns, provider="claude-code",
                         turns=call.turns, outcome=outcome)
        for denial in call.extra.get("permission_denials", []):
            self._denied(denial)

    def _denied(self, denial: Any) -> None:
        if not isinstance(denial, dict) or denial.get("tool_name") not in _WRITE_TOOL_NAMES:
            return
        tool_input = denial.get("tool_input") or {}
        path = str(tool_input.get("file_path") or tool_input.get("notebook_path") or "?")
        root = str(self.workspace.root) + "/"
        relative = path[len(root) :] if path.startswith(root) else path
        self.refused.append(relative)
        self.emit(
            {
                "type": "tool_refused",
                "tool": str(denial.get("tool_name")),
                "path": mask(relative),
                "reason": "not in the task's files",
            }
        )

    def collect_changes(self, before: dict[str, tuple[int, int]]) -> None:
        for path in changed_between(before, self.workspace.snapshot()):
            if self.workspace.scope.allows(path):
                self.changed_files.append(path)
            else:
                self.unattributed.append(path)

    def result(self, status: str, error_type: str | None, error: str | None) -> AgentResult:
        return self.finish(
            status, error_type, error, model=self.model, changed_files=self.changed_files,
            refused_writes=self.refused, unattributed=self.unattributed,
        )
