"""Pick the model for a task: level -> tier, explicit override, cost limit, budget, fallbacks.

Rules, in order:
1. An explicit model (`model` not "auto") is used as given, if its estimated cost fits the limit.
2. Otherwise the estimated level maps to a tier (`[routing] tiers`, else the catalog's `[levels]`);
   if the tier's model does not fit the cost limit (or the task's context does not fit the
   model), cheaper tiers are tried in turn: the best tier that fits wins.
3. Nothing fits: RoutingError with the reason (the cheapest candidate's estimate vs the limit).
The limit is the smallest of the task's cost limit, the default cost limit and the remaining budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.errors import RoutingError
from buildrunner.routing.catalog import Catalog, ModelInfo, load_catalog, price_call
from buildrunner.routing.complexity import Estimate, estimate_complexity
from buildrunner.routing.tokens import TokenEstimate, estimate_tokens

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings, Settings


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
) -> Selection:
    """Choose the model for a task; RoutingError with a clear reason when none fits."""
    catalog = catalog or load_catalog(settings, root=root)
    if estimate is None:
        estimator = settings.estimator if settings is not None else "auto"
        estimate = estimate_complexity(task_text, list(files), estimator)
    tokens = estimate_tokens(task_text, estimate.level, files, root)
    limit, limit_name = _effective_limit(cost_limit_usd, remaining_budget_usd, settings)

    if model and model != "auto":
        chosen = catalog.get(model)
        cost = _cost(chosen, tokens)
        if limit is not None and cost > limit:
            raise RoutingError(
                f"model {chosen.id} is estimated at ${cost} for this task, over the {limit_name}"
                f" of ${limit}"
            )
        _check_context(chosen, tokens, fatal=True)
        reason = f"explicit model '{model}' ({estimate.level} task)"
        return _selection(chosen, estimate, tokens, cost, reason, catalog, settings, limit)

    target = _level_target(estimate.level, catalog, settings)
    candidates = _candidates(target, catalog)
    rejected: list[str] = []
    for candidate in candidates:
        cost = _cost(candidate, tokens)
        if not _check_context(candidate, tokens, fatal=False):
            rejected.append(
                f"{candidate.id} context window {candidate.context_window} tokens is too small"
            )
            continue
        if limit is not None and cost > limit:
            rejected.append(f"{candidate.id} ~${cost}")
            continue
        reason = f"{estimate.level} task -> {candidate.tier} tier ({candidate.id})"
        if candidate is not candidates[0]:
            reason += f"; {'; '.join(rejected)} over the {limit_name} of ${limit}"
        return _selection(candidate, estimate, tokens, cost, reason, catalog, settings, limit)
    raise RoutingError(
        f"no model fits this {estimate.level} task: {'; '.join(rejected)}"
        + (f" (the {limit_name} is ${limit})" if limit is not None else "")
    )


def route_task(task: Any, settings: Settings, root: Path | None = None) -> dict[str, Any]:
    """The route of a plan task (`prompt`, `files`, `model`, `cost_limit_usd`) as plain data."""
    selection = select_model(
        task.prompt or "",
        files=list(task.files),
        model=task.model or "auto",
        cost_limit_usd=task.cost_limit_usd,
        settings=settings.routing,
        root=root,
    )
    return selection.to_dict()


def _effective_limit(
    cost_limit: Decimal | float | None,
    remaining_budget: Decimal | float | None,
    settings: RoutingSettings | None,
) -> tuple[Decimal | None, str]:
    limits: list[tuple[Decimal, str]] = []
    if cost_limit is not None:
        limits.append((_usd(cost_limit), "cost limit"))
    elif settings is not None and settings.default_cost_limit_usd is not None:
        limits.append((_usd(settings.default_cost_limit_usd), "default cost limit"))
    if remaining_budget is not None:
        limits.append((_usd(remaining_budget), "remaining budget"))
    if not limits:
        return None, "cost limit"
    return min(limits, key=lambda pair: pair[0])


def _usd(value: Decimal | float | int | str) -> Decimal:
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise RoutingError(f"a cost limit must be a non-negative amount of USD (got {value})")
    return amount


def _level_target(level: str, catalog: Catalog, settings: RoutingSettings | None) -> ModelInfo:
    configured = settings.tiers.get(level) if settings is not None else None
    target = configured or catalog.levels.get(level)
    if target is None:
        raise RoutingError(f"no tier configured for {level} tasks (set [routing.tiers] {level})")
    try:
        return catalog.resolve(target)
    except RoutingError as exc:
        raise RoutingError(f"[routing.tiers] {level} = '{target}': {exc}") from None


def _candidates(target: ModelInfo, catalog: Catalog) -> list[ModelInfo]:
    """The target model, then the preferred model of each cheaper tier, best first."""
    found = [target]
    rank = catalog.tier_rank(target)
    for tier in reversed(catalog.tiers[:rank]):
        try:
            model = catalog.tier_model(tier)
        except RoutingError:
            continue
        if model not in found:
            found.append(model)
    return found


def fallback_chain(
    model: ModelInfo, catalog: Catalog, settings: RoutingSettings | None = None
) -> list[str]:
    """Model ids to try after `model` fails over: configured chain by model id, alias or tier."""
    configured = settings.fallbacks if settings is not None else {}
    names = (model.id, *model.aliases, model.tier)
    chain: Sequence[str] = ()
    for source in (configured, catalog.fallbacks):
        hit = next((source[n] for n in names if n in source), None)
        if hit is not None:
            chain = hit
            break
    ids: list[str] = []
    for name in chain:
        try:
            fallback = catalog.resolve(name)
        except RoutingError as exc:
            raise RoutingError(f"fallback chain of {model.id}: {exc}") from None
        if fallback.id != model.id and fallback.id not in ids:
            ids.append(fallback.id)
    return ids


def _selection(
    chosen: ModelInfo,
    estimate: Estimate,
    tokens: TokenEstimate,
    cost: Decimal,
    reason: str,
    catalog: Catalog,
    settings: RoutingSettings | None,
    limit: Decimal | None,
) -> Selection:
    chain = fallback_chain(chosen, catalog, settings)
    if limit is not None:  # a fallback that cannot fit the limit would only fail later
        chain = [m for m in chain if _cost(catalog.get(m), tokens) <= limit]
    return Selection(
        model=chosen,
        level=estimate.level,
        score=estimate.score,
        estimated_cost_usd=cost,
        estimated_input_tokens=tokens.input_tokens,
        estimated_output_tokens=tokens.output_tokens,
        reason=reason,
        fallbacks=chain,
        signals=estimate.signals,
        cost_limit_usd=limit,
    )


def _cost(model: ModelInfo, tokens: TokenEstimate) -> Decimal:
    return price_call(model, tokens.input_tokens, tokens.output_tokens)


def _check_context(model: ModelInfo, tokens: TokenEstimate, *, fatal: bool) -> bool:
    """Does one turn's context (task, files, overhead) fit the model's window?"""
    per_turn = tokens.input_tokens // max(tokens.turns, 1)
    if per_turn <= model.context_window:
        return True
    if fatal:
        raise RoutingError(
            f"the task's context (~{per_turn} tokens a turn) exceeds {model.id}'s window of"
            f" {model.context_window} tokens"
        )
    return False
