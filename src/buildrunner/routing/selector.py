"""One model for a task: the one-rung case of `ladder.select_ladder`, in the shape older callers use.

`select_model` is what `br routing select`, `br run --dry-run` (`route_task`) and the build loop's
router called before ladders existed; it keeps their `Selection` result. The decision is the
ladder's: see `routing/ladder.py` and `routing/policy.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.routing.catalog import Catalog, ModelInfo, load_catalog
from buildrunner.routing.estimator_base import Estimate
from buildrunner.routing.ladder import fallback_chain, select_ladder

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings, Settings
    from buildrunner.routing.history import OutcomeStats

__all__ = ["Selection", "fallback_chain", "route_task", "select_model"]


@dataclass(frozen=True)
class Selection:
    """The chosen model for a task and why."""

    model: ModelInfo
    level: str
    score: float
    estimated_cost_usd: Decimal
    estimated_input_tokens: int
    estimated_output_tokens: int
    reason: str
    fallbacks: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)
    cost_limit_usd: Decimal | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.id,
            "provider": self.model.provider,
            "tier": self.model.tier,
            "level": self.level,
            "score": self.score,
            "estimated_cost_usd": str(self.estimated_cost_usd),
            "estimated_input_tokens": self.estimated_input_tokens,
            "estimated_output_tokens": self.estimated_output_tokens,
            "cost_limit_usd": None if self.cost_limit_usd is None else str(self.cost_limit_usd),
            "reason": self.reason,
            "fallbacks": self.fallbacks,
            "warnings": self.warnings,
        }


def select_model(
    task_text: str,
    *,
    files: Sequence[str] = (),
    model: str = "auto",
    cost_limit_usd: Decimal | float | None = None,
    remaining_budget_usd: Decimal | float | None = None,
    catalog: Catalog | None = None,
    settings: RoutingSettings | None = None,
    root: Path | None = None,
    estimate: Estimate | None = None,
    stats: OutcomeStats | None = None,
    today: date | None = None,
) -> Selection:
    """Choose the one model for a task without checks; RoutingError with a clear reason when none
    fits, BudgetExceededError when the remaining budget is spent."""
    catalog = catalog or load_catalog(settings, root=root)
    remaining = None if remaining_budget_usd is None else Decimal(str(remaining_budget_usd))
    choice = select_ladder(
        task_text, files=files, model=model, has_checks=False, cost_limit_usd=cost_limit_usd,
        remaining_budget_usd=remaining, catalog=catalog, settings=settings, stats=stats,
        today=today, root=root, estimate=estimate,
    )  # fmt: skip
    rung = choice.rungs[0]
    tokens = choice.tokens
    assert tokens is not None  # select_ladder always estimates tokens
    return Selection(
        model=catalog.get(rung.model), level=choice.level, score=choice.score,
        estimated_cost_usd=choice.estimated_cost_usd, estimated_input_tokens=tokens.input_tokens,
        estimated_output_tokens=tokens.output_tokens, reason=choice.reason,
        fallbacks=list(rung.fallbacks), signals=dict(choice.signals),
        cost_limit_usd=choice.cost_limit_usd, warnings=list(choice.warnings),
    )  # fmt: skip


def route_task(
    task: Any, settings: Settings, root: Path | None = None, *, has_checks: bool | None = None
) -> dict[str, Any]:
    """The route of a plan task (`prompt`, `files`, `model`, `cost_limit_usd`, `check`) as plain
    data: the first model and, for a task with checks, the whole ladder. `has_checks` overrides
    the task's own `check` (a plan-level default check counts too)."""
    catalog = load_catalog(settings.routing, root=root)
    if has_checks is None:
        has_checks = bool(getattr(task, "check", None))
    choice = select_ladder(
        task.prompt or "", files=list(task.files), model=task.model or "auto",
        has_checks=has_checks, cost_limit_usd=task.cost_limit_usd,
        catalog=catalog, settings=settings.routing, root=root,
    )  # fmt: skip
    data = choice.to_dict()
    model = catalog.get(choice.rungs[0].model)
    data.update(provider=model.provider, tier=model.tier)
    return data
