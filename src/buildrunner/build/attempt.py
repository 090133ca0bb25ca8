"""One agent task attempt inside a worker: the ladder of models, the checks, the security gate.

The orchestrator routes the task before dispatch and sends its decisions in `TaskRun.agent`:
the rungs (a model and its fallbacks each), the checks, fix rounds and escalation, the money
limits, and the routing and security settings. This module turns them into sessions with the
configured provider (executors/model_task.py), climbs the ladder (build/ladder.py) and reports
the attempt as a `TaskOutcome` with its verdict.

The security gate is part of acceptance: with `gate = "block"` a finding in the files the task
changed fails the round like a check, so the agent is told and may fix it in its next round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from buildrunner.build.checks import CheckResult, Round, run_checks
from buildrunner.build.ladder import Ladder, LadderPlan, LadderResult
from buildrunner.config import RoutingSettings, SecuritySettings
from buildrunner.executors.agent_types import AgentSession, AgentTask, BudgetBroker
from buildrunner.executors.command import CommandRunner
from buildrunner.parallel.protocol import TaskOutcome, TaskRun

GATE_COMMAND = "security gate (secrets and SQL injection in the changed files)"


def run_agent_attempt(
    task: TaskRun,
    emit: Callable[[dict[str, Any]], None],
    *,
    should_stop: Callable[[], bool] | None = None,
    budget: BudgetBroker | None = None,
    base_env: Mapping[str, str] | None = None,
    runner_factory: Callable[[], CommandRunner] = CommandRunner,
) -> TaskOutcome:
    """Run one agent attempt and return its outcome (never raises for model failures)."""
    from buildrunner.executors.model_task import start_model_session
    from buildrunner.routing.catalog import load_catalog, price_call
    from buildrunner.routing.providers import Usage

    decisions = task.agent
    routing = RoutingSettings.model_validate(decisions.get("routing", {}))
    security = SecuritySettings.model_validate(decisions.get("security", {}))
    catalog = load_catalog(routing)
    plan = LadderPlan.from_decisions(decisions)
    workdir = Path(task.workdir)

    def price(model_id: str, usage: Usage) -> Decimal:
        return price_call(
            catalog.get(model_id),
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_creation_tokens,
            usage.cache_read_tokens,
        )

    models = [model for rung in plan.rungs for model in (rung.model, *rung.fallbacks)]
    base = AgentTask(
        session_id=task.session_id,
        task_id=task.task_id,
        prompt=task.prompt or "",
        workdir=workdir,
        files=list(task.files),
        allow_commands=bool(decisions.get("allow_commands", False)),
        models=models,
        cost_limit_usd=_decimal(decisions.get("cost_limit_usd")),
        budget_allowance_usd=_decimal(decisions.get("budget_allowance_usd")),
        max_turns=int(decisions.get("max_turns", routing.max_turns)),
        timeout_s=task.timeout_s,
        log_path=Path(task.log_path),
        context_windows={model: catalog.get(model).context_window for model in models},
        budget=budget,
    )

    def start(rung_task: AgentTask) -> AgentSession:
        return start_model_session(
            rung_task, routing, price=price, on_event=emit, should_stop=should_stop
        )

    env = {**(base_env or {}), **task.env}
    gate = _Gate(workdir, security)

    def checks(where: Round, changed: frozenset[str]) -> list[CheckResult]:
        results = run_checks(
            plan.checks,
            workdir=workdir,
            env=env,
            timeout_s=task.timeout_s,
            log_path=Path(task.log_path),
            where=where,
            emit=emit,
            runner_factory=runner_factory,
        )
        if results and not results[-1].passed:
            return results
        blocked = gate.check(sorted(changed))
        return results + ([blocked] if blocked is not None else [])

    ladder = Ladder(plan, base, attempt=task.attempt, start=start, run_checks=checks, emit=emit)
    result = ladder.climb()
    outcome = _outcome(task, result, plan)
    if result.verdict == "unverified":  # no checks ran the gate: it judges the result now
        blocked = gate.check(sorted(result.changed_files | result.unattributed))
        if blocked is not None:
            outcome.status, outcome.error_type = "failed", "security_gate"
            outcome.error = blocked.output_tail.splitlines()[0]
    outcome.findings = gate.findings
    return outcome


class _Gate:
    """The security gate over the files a task changed, remembered for the outcome."""

    def __init__(self, workdir: Path, security: SecuritySettings) -> None:
        self.workdir = workdir
        self.security = security
        self.findings: list[dict[str, Any]] = []

    def check(self, paths: list[str]) -> CheckResult | None:
        """A failed 'check' when the gate blocks on a finding; None when the files pass."""
        if self.security.gate == "off" or not paths:
            return None
        self.findings = scan_changed_files(self.workdir, paths, self.security)
        if not self.findings or self.security.gate != "block":
            return None
        lines = [
            f"security gate: {len(self.findings)} finding(s) in changed files, first "
            f"{self.findings[0]['path']}:{self.findings[0]['line']} {self.findings[0]['rule_id']} "
            f"{self.findings[0]['match']}"
        ] + [
            f"{f['path']}:{f['line']}: {f['rule_id']} ({f['kind']}) {f['match']}"
            for f in self.findings[:20]
        ]
        return CheckResult(GATE_COMMAND, False, 1, 0.0, False, "\n".join(lines))


def _outcome(task: TaskRun, result: LadderResult, plan: LadderPlan) -> TaskOutcome:
    last = result.last
    accepted = result.verdict in ("accepted", "unverified")
    error = None if accepted else (result.reason or last.error)
    error_type = (
        None
        if accepted
        else ("rejected" if result.verdict == "rejected" else (last.error_type or "error"))
    )
    if result.verdict == "rejected" and result.last_check is not None:
        error = f"{result.reason}; last: {result.last_check.feedback().splitlines()[0]}"
    return TaskOutcome(
        task_id=task.task_id,
        attempt=task.attempt,
        status="succeeded" if accepted else "failed",
        error_type=error_type,
        error=error,
        cost_usd=str(result.cost_usd),
        model=result.model,
        changed_files=sorted(result.changed_files),
        verdict=result.verdict,
        rung=result.rung,
        fix_rounds=result.fix_rounds,
        rungs=[record.to_dict() for record in result.rungs],
        ladder=[rung.model for rung in plan.rungs],
    )


def scan_changed_files(workdir: Path, paths: list[str], security: Any) -> list[dict[str, Any]]:
    """Secret and SQL-injection findings (masked) in the files an agent task changed."""
    from buildrunner.security.scanner import scan_files

    existing = [path for path in paths if (workdir / path).is_file()]
    if not existing:
        return []
    report = scan_files(workdir, existing, settings=security)
    return [finding.to_dict() for finding in report.findings]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
