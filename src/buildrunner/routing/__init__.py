"""Routing: complexity estimate, model catalog, ladder selection judged by outcomes, cost tracking
and budgets.

The public names below are imported lazily so `import buildrunner.routing` stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Estimate": "estimator_base", "Estimator": "estimator_base", "LEVELS": "estimator_base",
    "estimate_complexity": "complexity", "get_estimator": "complexity",
    "Catalog": "catalog", "ModelInfo": "catalog", "load_catalog": "catalog",
    "price_call": "catalog",
    "Selection": "selector", "select_model": "selector", "route_task": "selector",
    "fallback_chain": "ladder", "select_ladder": "ladder", "LadderChoice": "ladder",
    "Rung": "ladder", "record_rung": "history", "outcome_stats": "history",
    "OutcomeStats": "history",
    "TokenEstimate": "tokens", "estimate_tokens": "tokens",
    "CostTracker": "costs", "CostSummary": "costs", "BudgetCheck": "costs",
    "BudgetStatus": "costs", "HardBudgetExceededError": "costs",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'buildrunner.routing' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"buildrunner.routing.{module}"), name)
