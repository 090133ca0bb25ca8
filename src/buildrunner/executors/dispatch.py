"""Runs an agent task attempt inside a worker: the model loop, then the security gate.

The orchestrator routes the task before dispatch and sends its decisions in `TaskRun.agent`
(model chain, money limits, the routing and security settings); this module turns them into an
`AgentTask`, runs it with the configured provider, and scans what the task changed.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from buildrunner.parallel.protocol import TaskOutcome, TaskRun


def execute_agent_task(
    task: TaskRun,
    emit: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool] | None = None,
) -> TaskOutcome:
    """Run one agent attempt and return its outcome (never raises for model failures)."""
    from buildrunner.config import RoutingSettings, SecuritySettings
    from buildrunner.executors.agent_types import AgentTask
    from buildrunner.executors.model_task import run_model_task
    from buildrunner.routing.catalog import load_catalog, price_call
    from buildrunner.routing.providers import Usage

    decisions = task.agent
    routing = RoutingSettings.model_validate(decisions.get("routing", {}))
    security = SecuritySettings.model_validate(decisions.get("security", {}))
    catalog = load_catalog(routing)

    def price(model_id: str, usage: Usage) -> Decimal:
        return price_call(
            catalog.get(model_id), usage.input_tokens, usage.output_tokens,
            usage.cache_creation_tokens, usage.cache_read_tokens,
        )

    models = list(decisions["models"])
    agent_task = AgentTask(
        session_id=task.session_id,
        task_id=task.task_id,
        prompt=task.prompt or "",
        workdir=Path(task.workdir),
        files=list(task.files),
        allow_commands=bool(decisions.get("allow_commands", False)),
        models=models,
        cost_limit_usd=_decimal(decisions.get("cost_limit_usd")),
        budget_allowance_usd=_decimal(decisions.get("budget_allowance_usd")),
        max_turns=int(decisions.get("max_turns", routing.max_turns)),
        timeout_s=task.timeout_s,
        log_path=Path(task.log_path),
        context_windows={model: catalog.get(model).context_window for model in models},
    )
    result = run_model_task(agent_task, routing, price=price, on_event=emit, should_stop=should_stop)
    outcome = TaskOutcome(
        task_id=task.task_id,
        attempt=task.attempt,
        status=result.status,
        error_type=result.error_type,
        error=result.error,
        cost_usd=str(result.cost_usd),
        model=result.model,
        changed_files=list(result.changed_files),
    )
    if result.status == "succeeded" and security.gate != "off":
        scanned = sorted({*result.changed_files, *result.unattributed_changes})
        outcome.findings = scan_changed_files(Path(task.workdir), scanned, security)
        if outcome.findings and security.gate == "block":
            outcome.status = "failed"
            outcome.error_type = "security_gate"
            first = outcome.findings[0]
            outcome.error = (
                f"security gate: {len(outcome.findings)} finding(s) in changed files, first "
                f"{first['path']}:{first['line']} {first['rule_id']} {first['match']}"
            )
    return outcome


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
