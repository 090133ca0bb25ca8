"""How the orchestrator uses routing: choose a model for an agent task within the money limits,
and account for every model call a worker reports.

Kept apart from `orchestrator.py` so the build loop reads as scheduling, and routing stays usable
alone (`br routing ...` never imports this module).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from buildrunner.config import Settings
from buildrunner.errors import BudgetExceededError, BuildRunnerError
from buildrunner.parallel.plan import Plan, TaskSpec


@dataclass
class RouteDecision:
    agent: dict[str, Any] = field(default_factory=dict)  # what the worker needs (TaskRun.agent)
    events: list[dict[str, Any]] = field(default_factory=list)  # model_selected, budget_exceeded
    error: str | None = None
    error_type: str | None = None
    level: str | None = None  # the estimated complexity level (recorded with the rung outcomes)
    warnings: list[str] = field(default_factory=list)  # e.g. a deprecated model (shown once)


class Router:
    """Routing and cost accounting for one session (the owner process's view)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        settings: Settings,
        plan: Plan,
        session_id: str,
        root: Path | None = None,
    ):
        self.conn = conn
        # a relative catalog path means the project's, wherever the worker runs
        catalog = settings.routing.catalog
        if catalog and root is not None and not Path(catalog).is_absolute():
            settings = settings.model_copy(deep=True)
            settings.routing.catalog = str(root / catalog)
        self.settings = settings
        self.plan = plan
        self.session_id = session_id
        self.root = root
        self._catalog: Any = None
        self._tracker: Any = None
        self._stats: Any = None
        self._warned: set[str] = set()

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from buildrunner.routing.catalog import load_catalog

            self._catalog = load_catalog(self.settings.routing)
        return self._catalog

    @property
    def tracker(self) -> Any:
        if self._tracker is None:
            from buildrunner.routing.costs import CostTracker

            self._tracker = CostTracker(self.conn)
        return self._tracker

    def session_budget(self) -> Decimal | None:
        row = self.conn.execute(
            "SELECT budget_usd FROM sessions WHERE id = ?", (self.session_id,)
        ).fetchone()
        return Decimal(row["budget_usd"]) if row and row["budget_usd"] else None

    def route(self, task: TaskSpec, session_id: str) -> RouteDecision:
        """Pick the ladder of models (one rung without checks) for an agent task, or say why it
        cannot run."""
        from buildrunner.routing.history import outcome_stats
        from buildrunner.routing.ladder import select_ladder

        decision = RouteDecision()
        remaining = self._remaining_session_budget()
        if remaining is not None and remaining <= 0:
            decision.error_type = "budget_exceeded"
            decision.error = f"session budget spent (${self.session_budget():.2f})"
            decision.events.append(
                {
                    "type": "budget_exceeded",
                    "scope": "session",
                    "limit_usd": str(self.session_budget()),
                    "spent_usd": str(self._spent_session()),
                    "hard": True,
                }
            )
            return decision
        cost_limit = task.cost_limit_usd or self.settings.routing.default_cost_limit_usd
        checks = task.check if task.check is not None else (self.plan.check or [])
        try:
            # hard daily/weekly/monthly budgets steer the choice too, not only refuse
            hard_left = self.tracker.check_budget(Decimal(0), session_id).remaining_usd
            if hard_left is not None:
                remaining = hard_left if remaining is None else min(remaining, hard_left)
            if self._stats is None:  # the project's own evidence, read once per session
                self._stats = outcome_stats(self.conn)
            choice = select_ladder(
                task.prompt or "",
                files=list(task.files),
                model=task.model,
                has_checks=bool(checks),
                cost_limit_usd=cost_limit,
                remaining_budget_usd=remaining,
                catalog=self.catalog,
                settings=self.settings.routing,
                stats=self._stats,
                root=self.root,
            )
            check = self.tracker.check_budget(choice.estimated_cost_usd, session_id)
        except BudgetExceededError as exc:
            decision.error_type, decision.error = "budget_exceeded", str(exc)
            status = getattr(exc, "status", None)
            details = status.to_dict() if status is not None else {"hard": True}
            decision.events.append({"type": "budget_exceeded", **details, "reason": str(exc)})
            return decision
        except BuildRunnerError as exc:
            decision.error_type, decision.error = "routing", str(exc)
            if remaining is not None and self._fits_without_budget(task, cost_limit):
                # only the money left stops it: a budget matter (the session pauses), not routing
                decision.error_type = "budget_exceeded"
                decision.events.append(
                    {
                        "type": "budget_exceeded",
                        "scope": "session",
                        "hard": True,
                        "limit_usd": str(self.session_budget() or remaining),
                        "spent_usd": str(self._spent_session()),
                        "reason": str(exc),
                    }
                )
            return decision
        except Exception as exc:  # a routing bug fails this task, not the whole build
            decision.error_type = "internal_error"
            decision.error = f"routing failed: {type(exc).__name__}: {exc}"
            return decision
        for warning in check.warnings:
            decision.events.append({"type": "budget_exceeded", **warning.to_dict()})
        for text in choice.warnings:
            if text not in self._warned:  # a deprecated model is said once per session
                self._warned.add(text)
                decision.warnings.append(text)
        decision.level = choice.level
        decision.events.append(
            {
                "type": "model_selected",
                "model": choice.rungs[0].model,
                "complexity": choice.level,
                "ladder": choice.models,
                "estimated_cost_usd": str(choice.estimated_cost_usd),
                "reason": choice.reason,
            }
        )
        allowance = remaining
        if check.remaining_usd is not None:
            allowance = (
                check.remaining_usd if allowance is None else min(allowance, check.remaining_usd)
            )
        first = choice.rungs[0]
        decision.agent = {
            "models": [first.model, *first.fallbacks],
            "rungs": [
                {"model": rung.model, "fallbacks": list(rung.fallbacks)} for rung in choice.rungs
            ],
            "checks": list(checks),
            "fix_attempts": (
                task.fix_attempts if task.fix_attempts is not None else self.plan.fix_attempts
            ),
            "escalate": task.escalate or "restart",
            "level": choice.level,
            "cost_limit_usd": None if cost_limit is None else str(cost_limit),
            "budget_allowance_usd": None if allowance is None else str(allowance),
            "max_turns": task.max_turns or self.settings.routing.max_turns,
            "allow_commands": task.allow_commands,
            "routing": self.settings.routing.model_dump(mode="json"),
            "security": self.settings.security.model_dump(mode="json"),
        }
        return decision

    def _fits_without_budget(self, task: TaskSpec, cost_limit: float | None) -> bool:
        from buildrunner.routing.selector import select_model

        try:
            select_model(
                task.prompt or "",
                files=list(task.files),
                model=task.model,
                cost_limit_usd=cost_limit,
                remaining_budget_usd=None,
                catalog=self.catalog,
                settings=self.settings.routing,
            )
        except BuildRunnerError:
            return False
        return True

    def record_call(self, session_id: str, task_id: str, event: dict[str, Any]) -> None:
        """One cost row per model call (called inside the owner's open transaction)."""
        from buildrunner.routing.costs import to_micro

        model = str(event.get("model", "unknown"))
        cost = Decimal(str(event.get("cost_usd", "0")))
        self.tracker.record(
            session_id=session_id,
            task_id=task_id,
            model_id=model,
            provider=self.settings.routing.provider,
            input_tokens=int(event.get("input_tokens", 0) or 0),
            output_tokens=int(event.get("output_tokens", 0) or 0),
            cache_write_tokens=int(event.get("cache_write_tokens", 0) or 0),
            cache_read_tokens=int(event.get("cache_read_tokens", 0) or 0),
            cost_usd=cost,
            latency_ms=float(event.get("latency_ms", 0) or 0),
            outcome=str(event.get("outcome", "success")),
        )
        self.conn.execute(
            "UPDATE tasks SET cost_micro_usd = cost_micro_usd + ?, model = ?"
            " WHERE session_id = ? AND task_id = ?",
            (to_micro(cost), model, session_id, task_id),
        )

    def _spent_session(self) -> Decimal:
        spent: Decimal = self.tracker.spent("session", self.session_id)
        return spent

    def _remaining_session_budget(self) -> Decimal | None:
        budget = self.session_budget()
        return None if budget is None else budget - self._spent_session()
