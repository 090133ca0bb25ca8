"""Verified agent tasks: a rung's agent works, its checks judge, fix rounds, then the next model.

A task with checks climbs a ladder of models from cheap to strong. On each rung the agent works
in one conversation: after it stops, the checks run; a failure goes back to the agent as a new
turn (at most `fix_attempts` times); when the fix rounds are spent the task restarts on the next
rung, with the files it may write restored first (unless `escalate: continue`) and a note of what
the previous rung tried and how its check failed. Money bounds the climb: each rung may spend
only what the task's cost limit has left. Final verdicts: accepted (the checks passed), rejected
(they never did), unverified (no checks: one model, no ladder), failed (an error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from buildrunner.build.checks import CheckResult, Round
from buildrunner.executors.agent_types import AgentResult, AgentSession, AgentTask
from buildrunner.executors.workspace import Workspace

Verdict = Literal["accepted", "rejected", "unverified", "failed"]
# Errors after which a stronger model may still succeed; any other error fails the task.
CLIMB_ON = frozenset({"max_turns", "refusal", "write_outside_files"})
MONEY = frozenset({"cost_limit_exceeded", "budget_exceeded"})
NOTE_CHARS = 1_500  # of the previous rung's final answer, in the next rung's prompt


@dataclass(frozen=True)
class Rung:
    model: str
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class LadderPlan:
    rungs: tuple[Rung, ...]
    checks: tuple[str, ...] = ()
    fix_attempts: int = 2
    escalate: str = "restart"  # restart | continue

    @classmethod
    def from_decisions(cls, decisions: dict[str, Any]) -> LadderPlan:
        """The plan the orchestrator sent in `TaskRun.agent` (`rungs`, or one `models` chain)."""
        if decisions.get("rungs"):
            rungs = tuple(
                Rung(str(rung["model"]), tuple(rung.get("fallbacks", ())))
                for rung in decisions["rungs"]
            )
        else:
            models = [str(model) for model in decisions.get("models", ())]
            rungs = (Rung(models[0], tuple(models[1:])),) if models else ()
        return cls(
            rungs=rungs,
            checks=tuple(decisions.get("checks") or ()),
            fix_attempts=int(decisions.get("fix_attempts", 2)),
            escalate=str(decisions.get("escalate") or "restart"),
        )


@dataclass(frozen=True)
class RungRecord:
    """What one rung did, for the routing history."""

    rung: int
    model: str
    fix_rounds: int
    accepted: bool
    first_try: bool
    cost_usd: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "rung": self.rung,
            "model": self.model,
            "fix_rounds": self.fix_rounds,
            "accepted": self.accepted,
            "first_try": self.first_try,
            "cost_usd": str(self.cost_usd),
        }


@dataclass
class LadderResult:
    verdict: Verdict
    last: AgentResult
    model: str
    rung: int
    fix_rounds: int  # over the whole ladder
    cost_usd: Decimal
    changed_files: set[str] = field(default_factory=set)
    unattributed: set[str] = field(default_factory=set)
    rungs: list[RungRecord] = field(default_factory=list)
    last_check: CheckResult | None = None
    reason: str | None = None


# (the task for this rung) -> a session; (round, files changed so far) -> the check results,
# the failing one last
StartSession = Callable[[AgentTask], AgentSession]
RunChecks = Callable[[Round, frozenset[str]], Sequence[CheckResult]]


class FileSnapshot:
    """The files a task may write, as they were before it ran (to restore before a new rung)."""

    def __init__(self, workdir: Path, files: Sequence[str]) -> None:
        self.workspace = Workspace(workdir, files)
        self.content: dict[str, bytes] = {}
        for path in self.workspace.walk():
            relative = self.workspace.relative(path)
            if self.workspace.scope.allows(relative):
                try:
                    self.content[relative] = path.read_bytes()
                except OSError:
                    continue

    def restore(self) -> list[str]:
        """Put every file in scope back as it was (created ones removed); the paths changed."""
        changed: list[str] = []
        now_there = {
            self.workspace.relative(path)
            for path in self.workspace.walk()
            if self.workspace.scope.allows(self.workspace.relative(path))
        }
        for relative in sorted(now_there - self.content.keys()):
            (self.workspace.root / relative).unlink(missing_ok=True)
            changed.append(relative)
        for relative, data in self.content.items():
            path = self.workspace.root / relative
            try:
                if path.is_file() and path.read_bytes() == data:
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                changed.append(relative)
            except OSError:
                continue
        return changed


class Ladder:
    """Climbs one task's ladder (see the module docstring)."""

    def __init__(
        self,
        plan: LadderPlan,
        task: AgentTask,
        *,
        attempt: int,
        start: StartSession,
        run_checks: RunChecks,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        self.plan = plan
        self.task = task
        self.attempt = attempt
        self.start = start
        self.run_checks = run_checks
        self.emit = emit

    def climb(self) -> LadderResult:
        snapshot = (
            FileSnapshot(self.task.workdir, self.task.files) if len(self.plan.rungs) > 1 else None
        )
        spent = Decimal(0)
        records: list[RungRecord] = []
        changed: set[str] = set()
        unattributed: set[str] = set()
        rounds_total = 0
        note = ""
        last_check: CheckResult | None = None
        last: AgentResult | None = None
        for index, rung in enumerate(self.plan.rungs, 1):
            if index > 1:
                assert snapshot is not None and last is not None
                self._escalate(index, rung, last, last_check, snapshot)
                note = _note(self.plan.rungs[index - 2].model, last, last_check, self.plan.escalate)
            limit = self.task.cost_limit_usd
            if limit is not None and limit - spent <= 0:
                spent_note = (
                    f"the task's cost limit ${limit} is spent before rung {index} ({rung.model})"
                )
                return self._end(
                    "rejected" if last_check else "failed",
                    last,
                    index - 1,
                    rounds_total,
                    spent,
                    changed,
                    unattributed,
                    records,
                    last_check,
                    spent_note,
                )
            rung_task = replace(
                self.task,
                models=[rung.model, *rung.fallbacks],
                prompt=self.task.prompt + note,
                cost_limit_usd=None if limit is None else limit - spent,
            )
            session = self.start(rung_task)
            result = session.run()
            rung_cost, rounds = result.cost_usd, 0
            while True:
                spent += result.cost_usd
                changed.update(result.changed_files)
                unattributed.update(result.unattributed_changes)
                last = result
                if result.status == "failed":
                    break
                if not self.plan.checks:
                    records.append(
                        RungRecord(index, result.model or rung.model, 0, True, True, rung_cost)
                    )
                    return self._end(
                        "unverified",
                        result,
                        index,
                        0,
                        spent,
                        changed,
                        unattributed,
                        records,
                        None,
                        None,
                    )
                where = Round(self.attempt, index, rounds, result.model or rung.model)
                checks = self.run_checks(where, frozenset(changed | unattributed))
                last_check = checks[-1] if checks else None
                if checks and all(check.passed for check in checks):
                    records.append(
                        RungRecord(
                            index, result.model or rung.model, rounds, True, rounds == 0, rung_cost
                        )
                    )
                    return self._end(
                        "accepted",
                        result,
                        index,
                        rounds_total + rounds,
                        spent,
                        changed,
                        unattributed,
                        records,
                        None,
                        None,
                    )
                if rounds >= self.plan.fix_attempts:
                    break
                rounds += 1
                assert last_check is not None
                result = session.follow_up(last_check.feedback())
                rung_cost += result.cost_usd
            rounds_total += rounds
            records.append(
                RungRecord(index, last.model or rung.model, rounds, False, False, rung_cost)
            )
            if last.status == "failed" and last.error_type not in CLIMB_ON:
                money = last.error_type in MONEY
                verdict: Verdict = "rejected" if money and last_check is not None else "failed"
                stop = f"money stopped the climb: {last.error}" if money else last.error
                return self._end(
                    verdict,
                    last,
                    index,
                    rounds_total,
                    spent,
                    changed,
                    unattributed,
                    records,
                    last_check,
                    stop,
                )
        assert last is not None
        reason = "the checks never passed" if last_check is not None else last.error
        return self._end(
            "rejected" if last_check is not None else "failed",
            last,
            len(self.plan.rungs),
            rounds_total,
            spent,
            changed,
            unattributed,
            records,
            last_check,
            reason,
        )

    def _escalate(
        self,
        index: int,
        rung: Rung,
        last: AgentResult,
        check: CheckResult | None,
        snapshot: FileSnapshot,
    ) -> None:
        previous = self.plan.rungs[index - 2].model
        why = (
            f"`{check.command}` still failed"
            if check is not None
            else f"{last.error_type}: {last.error}"
        )
        if self.plan.escalate == "restart":
            snapshot.restore()
        self.emit(
            {
                "type": "task_escalated",
                "attempt": self.attempt,
                "from_model": previous,
                "to_model": rung.model,
                "rung": index,
                "reason": f"{why} after {self.plan.fix_attempts} fix round(s) on {previous}",
            }
        )

    @staticmethod
    def _end(
        verdict: Verdict,
        last: AgentResult | None,
        rung: int,
        rounds: int,
        spent: Decimal,
        changed: set[str],
        unattributed: set[str],
        records: list[RungRecord],
        check: CheckResult | None,
        reason: str | None,
    ) -> LadderResult:
        assert last is not None
        return LadderResult(
            verdict,
            last,
            last.model,
            rung,
            rounds,
            spent,
            changed,
            unattributed,
            records,
            check,
            reason,
        )


def _note(model: str, last: AgentResult, check: CheckResult | None, escalate: str) -> str:
    """What the next rung is told about the previous one."""
    tried = (last.final_text or "").strip()[-NOTE_CHARS:] or "(it gave no summary)"
    failed = (
        check.feedback()
        if check is not None
        else f"It stopped with {last.error_type}: {last.error}"
    )
    state = (
        "The files you may write were restored to how they were before that attempt."
        if escalate == "restart"
        else "Its edits are still in place."
    )
    return (
        f"\n\nNote: an earlier attempt at this task by {model} did not pass the task's checks. "
        f"{state}\nWhat it said it did:\n{tried}\n\nHow the check failed:\n{failed}\n"
    )
