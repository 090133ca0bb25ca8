"""The Claude Code executor: headless `claude -p` runs, scoped to the task's files.

Claude Code runs its own tool loop, so this executor decides what it may do and checks what it
did. Read tools are always allowed, edits only on the declared `files` (as `Edit(...)`/`Write(...)`
permission rules), `Bash` only when the task allows commands, under an explicit permission mode
(`dontAsk`) so a repository's `.claude/settings.json` cannot widen it. Writes the CLI was denied
come back as `permission_denials` and are reported as refused writes.

A session (`start_claude_code_session`) is one CLI conversation: `run()` sends the task's prompt,
`follow_up(text)` runs `claude -p --resume <session_id>` with the same permissions. Each round is
checked after it ends (see `write_guard`): what changed inside `files` is the round's work; a
write outside `files` that the CLI made is undone, reported (`tool_refused`) and fails the round
with error_type `write_outside_files`. When the CLI's transcript shows it used only its file
tools, only the paths they named are counted, so another task's write in a shared tree is
reported as unattributed, never undone; when it ran Bash or any other tool that can write (or
printed no transcript), every change outside `files` is counted.

Money: each run gets `--max-budget-usd` (what the binding limit has left), so the CLI stops
itself at the limit (it can pass it by the call in flight). With a budget broker, that same amount
is reserved before each run (every retry and fallback is a run) and settled to the run's cost
after it, or released when a failed run cost nothing. A task with neither a cost limit nor a
budget allowance has no worst case to reserve: its runs reserve $0, are not capped, and are
settled to what they cost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Unpack

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
from buildrunner.executors.workspace import Workspace, normalise
from buildrunner.executors.write_guard import (
    RestorePoint,
    is_leftover,
    refusal_reason,
    undo_outside_writes,
)
from buildrunner.routing.failures import ModelCallError, mask
from buildrunner.routing.providers import CallResult
from buildrunner.routing.providers.claude_code import ClaudeCodeProvider, CliRequest
from buildrunner.routing.resilience import unique_models

__all__ = [
    "AgentResult", "AgentTask", "ClaudeCodeSession", "permission_rules", "run_claude_code_task",
    "start_claude_code_session",
]  # fmt: skip

log = logging.getLogger(__name__)

READ_TOOLS = ("Read", "Glob", "Grep", "LS")
WRITE_TOOLS = ("Edit", "Write")  # Edit rules also cover MultiEdit and NotebookEdit
_WRITE_TOOL_NAMES = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
# Tools that never write in the working directory: a run that used only these and the file
# tools can have written only the paths its file tools named.
_NON_WRITING_TOOLS = frozenset(
    {
        *READ_TOOLS,
        "NotebookRead",
        "WebFetch",
        "WebSearch",
        "TodoWrite",
        "TaskCreate",
        "TaskGet",
        "TaskList",
        "TaskUpdate",
        "ExitPlanMode",
    }
)

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


def start_claude_code_session(
    task: AgentTask,
    *,
    provider: ClaudeCodeProvider,
    price: PriceFunction,
    on_event: EventSink,
    **options: Unpack[LoopOptions],
) -> ClaudeCodeSession:
    """A Claude Code conversation for one task attempt: `run()`, then `follow_up(text)`."""
    return ClaudeCodeSession(task, provider, price, on_event, options)


def run_claude_code_task(
    task: AgentTask,
    *,
    provider: ClaudeCodeProvider,
    price: PriceFunction,
    on_event: EventSink,
    **options: Unpack[LoopOptions],
) -> AgentResult:
    """Run the task with Claude Code; never raises for CLI or model failures."""
    return ClaudeCodeSession(task, provider, price, on_event, options).run()


class ClaudeCodeSession(AttemptLedger):
    """The ledger of a CLI conversation, plus what each round changed or was refused."""

    def __init__(
        self,
        task: AgentTask,
        provider: ClaudeCodeProvider,
        price: PriceFunction,
        emit: EventSink,
        options: LoopOptions,
    ) -> None:
        super().__init__(task, emit, options)
        self.provider = provider
        self.price = price
        self.workspace = Workspace(task.workdir, task.files)
        self.chain = unique_models(task.models)
        self.index = 0
        self.model = self.chain[0] if self.chain else ""
        self.session_id: str | None = None
        self._new_round()

    def _new_round(self) -> None:
        self.changed_files: list[str] = []
        self.unattributed: list[str] = []
        self.refused: list[str] = []
        self.outside: list[str] = []
        self.tool_calls: list[dict[str, Any]] | None = []  # None: some run printed none

    # -- the session ------------------------------------------------------------------------

    def run(self) -> AgentResult:
        """The task prompt, until the CLI stops; never raises for CLI or model failures."""
        if self.rounds:
            raise RuntimeError("run() starts the session once; use follow_up() to go on")
        self.start_round()
        return self._round(self.task.prompt, resume=None)

    def follow_up(self, text: str) -> AgentResult:
        """A new user turn: `--resume` the CLI's session with `text` (same permissions)."""
        if not self.rounds:
            raise RuntimeError("call run() before follow_up()")
        self.start_round(follow_up=text)
        if self.session_id is None:  # no conversation to go on with: start one that says all
            return self._round(f"{self.task.prompt}\n\n{text}", resume=None)
        return self._round(text, resume=self.session_id)

    def _round(self, prompt: str, resume: str | None) -> AgentResult:
        self._new_round()
        if not self.chain:
            return self.result("failed", "no_model", "no model was selected for this task")
        limit, kind = cost_limit(self.task)
        if limit is not None and limit - self.spent <= 0:
            return self.result("failed", kind, f"no money left for this task (limit ${limit})")
        point = RestorePoint.capture(self.workspace)
        try:
            answer = self.call_models(
                self.chain[self.index :], lambda model: self.attempt(model, prompt, resume)
            )
        except ReservationRefused as refusal:  # an earlier attempt of the round may have run
            self.emit(refused_event(refusal, self.spent))
            return self._checked(point) or self.result(
                "failed", "budget_exceeded", f"stopped: {refusal}"
            )
        except ModelCallError as exc:
            return self._checked(point) or self.result("failed", exc.failure.type, mask(str(exc)))
        except Exception as exc:  # a bug must fail the task, not the worker
            log.exception("claude-code task %s crashed", self.task.task_id)
            return self._checked(point) or self.result(
                "failed", "internal_error", mask(f"{type(exc).__name__}: {exc}")
            )
        self.index += answer.index
        outside = self._checked(point)
        if outside is not None:
            return outside
        if answer.value.stop_reason == "max_budget" or (limit is not None and self.spent > limit):
            self.emit(budget_exceeded_event(kind, limit or Decimal(0), self.spent))
            return self.result(
                "failed", kind, f"spent ${self.spent}, reaching the limit of ${limit}"
            )
        if answer.value.stop_reason == "max_turns":
            return self.result("failed", "max_turns", f"stopped after {answer.value.turns} turns")
        return self.result("succeeded", None, None)

    def attempt(self, model: str, prompt: str, resume: str | None) -> CallResult:
        """One CLI run (the failure policy calls this for every retry and fallback)."""
        allowed, disallowed = permission_rules(self.task.files, self.task.allow_commands)
        files = ", ".join(self.task.files) or "(none)"
        limit, _ = cost_limit(self.task)
        cap = None if limit is None else max(Decimal(0), limit - self.spent)
        held = hold(self.task.budget, model, cap or Decimal(0))
        request = CliRequest(
            prompt=prompt,
            model=model,
            workdir=self.workspace.root,
            allowed_tools=allowed,
            disallowed_tools=disallowed,
            max_turns=self.task.max_turns,
            append_system_prompt=SCOPE_PROMPT.format(files=files),
            timeout_s=self.task.timeout_s,
            resume_session=resume,
            max_budget_usd=cap,
            should_stop=self.should_stop,
        )
        try:
            call = self.provider.run(request)
        except ModelCallError as exc:
            cost = None
            if isinstance(exc.partial, CallResult):  # a failed run may still have cost
                cost = self.account(
                    exc.partial, outcome="error", reservation_id=held.reservation_id
                )
            else:
                self.tool_calls = None  # it printed nothing: what it ran is unknown
            held.close(cost)
            raise
        except BaseException:
            held.release()
            raise
        held.settle(self.account(call, outcome="success", reservation_id=held.reservation_id))
        return call

    def account(self, call: CallResult, *, outcome: str, reservation_id: str | None) -> Decimal:
        cost = (
            call.reported_cost_usd
            if call.reported_cost_usd is not None
            else self.price(call.model, call.usage)
        )
        self.model = call.model
        if call.text:
            self.final_text = call.text
        session = call.extra.get("session_id")
        if isinstance(session, str) and session:
            self.session_id = session
        calls = call.extra.get("tool_calls")
        if calls is None or self.tool_calls is None:
            self.tool_calls = None
        else:
            self.tool_calls += calls
        extra: dict[str, Any] = {"provider": "claude-code", "turns": call.turns, "outcome": outcome}
        if reservation_id is not None:
            extra["reservation_id"] = reservation_id
        self.record_call(call, cost, new_turns=call.turns, **extra)
        for denial in call.extra.get("permission_denials", []):
            self._denied(denial)
        return cost

    # -- what the round did -------------------------------------------------------------------

    def _denied(self, denial: Any) -> None:
        if not isinstance(denial, dict) or denial.get("tool_name") not in _WRITE_TOOL_NAMES:
            return
        relative = self._relative(denial.get("tool_input") or {})
        self.refused.append(relative)
        self._refusal(str(denial.get("tool_name")), relative, "not in the task's files")

    def _refusal(self, tool: str, path: str, reason: str) -> None:
        self.emit({"type": "tool_refused", "tool": tool, "path": mask(path), "reason": reason})

    def _relative(self, tool_input: dict[str, Any]) -> str:
        raw = str(tool_input.get("file_path") or tool_input.get("notebook_path") or "?")
        path = Path(raw) if Path(raw).is_absolute() else self.workspace.root / raw
        for candidate in (path, path.parent.resolve() / path.name):
            try:
                return candidate.relative_to(self.workspace.root).as_posix()
            except ValueError:
                continue
        return raw

    def _checked(self, point: RestorePoint) -> AgentResult | None:
        """Claim the round's work; undo and report its writes outside `files`."""
        changed = point.changed()
        scope = self.workspace.scope
        self.changed_files = [path for path in changed if scope.allows(path)]
        outside = [path for path in changed if not scope.allows(path) and not is_leftover(path)]
        named = self._named_by_file_tools()
        counted = outside if named is None else [path for path in outside if path in named]
        self.unattributed = [path for path in outside if path not in counted]
        undone = undo_outside_writes(point, counted)
        for write in undone:
            tool = (named or {}).get(write.path, "claude-code")
            self._refusal(tool, write.path, refusal_reason(write))
        self.outside = [write.path for write in undone]
        if not undone:
            return None
        return self.result(
            "failed",
            "write_outside_files",
            mask(f"wrote outside the task's files: {', '.join(self.outside)} (undone)"),
        )

    def _named_by_file_tools(self) -> dict[str, str] | None:
        """path -> tool for the paths the CLI's file tools named; None when a tool that can
        write anywhere ran (or what ran is unknown), so every change must be counted."""
        if self.tool_calls is None:
            return None
        named: dict[str, str] = {}
        for call in self.tool_calls:
            name = call["name"]
            if name in _WRITE_TOOL_NAMES:
                named[self._relative(call["input"])] = name
            elif name not in _NON_WRITING_TOOLS:
                return None
        return named

    def result(self, status: str, error_type: str | None, error: str | None) -> AgentResult:
        return self.finish(
            status,
            error_type,
            error,
            model=self.model,
            changed_files=self.changed_files,
            refused_writes=self.refused,
            unattributed=self.unattributed,
            outside_writes=self.outside,
        )
