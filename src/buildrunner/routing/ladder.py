"""Pick the ladder of models a task climbs: the routing decision the build loop calls.

`select_ladder` turns a task (text, files, an explicit model or `auto`, whether it has checks, its
money limits) into `LadderChoice`: the rungs in climbing order, each with its availability
fallbacks, the estimated level (a signal), P(resolve) per tier, the first rung's estimated cost
and one readable reason. The decision itself is `policy.best_ladder` (outcome data + this project's
history); this module supplies the catalog, token estimates, limits, lifecycle dates and pins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.errors import BudgetExceededError, RoutingError
from buildrunner.routing.catalog import Catalog, ModelInfo, load_catalog, price_call
from buildrunner.routing.complexity import estimate_complexity
from buildrunner.routing.estimator_base import Estimate
from buildrunner.routing.limits import effective_limit
from buildrunner.routing.policy import (
    Ladder,
    Odds,
    PolicySettings,
    TierOption,
    best_ladder,
    history_notes,
    policy_for,
)
from buildrunner.routing.prior import OutcomePrior, load_prior, scope_of
from buildrunner.routing.tokens import TokenEstimate, estimate_tokens

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings
    from buildrunner.routing.history import OutcomeStats


@dataclass(frozen=True)
class Rung:
    model: str  # catalog id
    fallbacks: tuple[str, ...]  # availability fallbacks for this rung (529/overloaded etc.)


@dataclass(frozen=True)
class LadderChoice:
    rungs: tuple[Rung, ...]  # climbing order; exactly one rung when the task has no checks
    level: str  # the estimated complexity level (a diagnostic/signal)
    p: Mapping[str, float] | None  # estimated P(resolve) per tier (keyed by its model id), if known
    estimated_cost_usd: Decimal  # of the first rung's attempt
    reason: str  # one line a user can read
    warnings: tuple[str, ...] = ()  # deprecated models in the ladder: show each once
    score: float = 0.0  # the estimator's 0-100 score
    signals: Mapping[str, Any] = field(default_factory=dict)
    p_resolve: float | None = None  # P(some rung resolves the task), when known
    expected_cost_usd: Decimal | None = None  # over the climb, when known
    rung_costs_usd: tuple[Decimal, ...] = ()  # one attempt on each rung
    tokens: TokenEstimate | None = None
    cost_limit_usd: Decimal | None = None

    @property
    def models(self) -> list[str]:
        return [rung.model for rung in self.rungs]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `br routing select`: model, ladder, level, p, costs, reason."""
        tokens = self.tokens
        return {
            "model": self.rungs[0].model, "ladder": self.models, "level": self.level,
            "p": None if self.p is None else dict(self.p),
            "p_resolve": None if self.p_resolve is None else round(self.p_resolve, 3),
            "score": self.score, "estimated_cost_usd": str(self.estimated_cost_usd),
            "expected_cost_usd": None if self.expected_cost_usd is None else str(self.expected_cost_usd),
            "estimated_input_tokens": tokens.input_tokens if tokens else None,
            "estimated_output_tokens": tokens.output_tokens if tokens else None,
            "cost_limit_usd": None if self.cost_limit_usd is None else str(self.cost_limit_usd),
            "fallbacks": list(self.rungs[0].fallbacks),
            "rungs": [
                {"model": rung.model, "fallbacks": list(rung.fallbacks), "estimated_cost_usd": str(cost)}
                for rung, cost in zip(self.rungs, self.rung_costs_usd, strict=False)
            ],
            "reason": self.reason, "warnings": list(self.warnings),
        }  # fmt: skip


def select_ladder(
    task_text: str, *, files: Sequence[str] = (), model: str = "auto", has_checks: bool = False,
    cost_limit_usd: float | Decimal | None = None, remaining_budget_usd: Decimal | None = None,
    catalog: Catalog | None = None, settings: RoutingSettings | None = None,
    stats: OutcomeStats | None = None, today: date | None = None, root: Path | None = None,
    estimate: Estimate | None = None, prior: OutcomePrior | None = None,
    policy: PolicySettings | None = None,
) -> LadderChoice:  # fmt: skip
    """The ladder a task should climb; RoutingError when nothing fits, BudgetExceededError when
    the remaining budget is spent. `stats` (this project's outcomes) moves the dev-data prior;
    `today` decides which models are deprecated or retired."""
    catalog = catalog or load_catalog(settings, root=root)
    today = today or date.today()
    if remaining_budget_usd is not None and remaining_budget_usd <= 0:
        raise BudgetExceededError(f"the budget is spent (${remaining_budget_usd} left)")
    if estimate is None:
        estimator = settings.estimator if settings is not None else "auto"
        estimate = estimate_complexity(task_text, list(files), estimator)
    tokens = estimate_tokens(task_text, estimate.level, files, root)
    limit, limit_name = effective_limit(cost_limit_usd, remaining_budget_usd, settings)
    policy = policy or policy_for(settings)
    task = _Task(estimate, tokens, limit, limit_name, has_checks, catalog, settings, today)
    if model and model != "auto":
        return task.explicit(model)
    if prior is None:
        prior = load_prior(level_pools=policy.level_pools, shrink=policy.shrink)
    return task.auto(prior, stats, policy, scope_of(files))


@dataclass
class _Task:
    estimate: Estimate
    tokens: TokenEstimate
    limit: Decimal | None
    limit_name: str
    has_checks: bool
    catalog: Catalog
    settings: RoutingSettings | None
    today: date

    def explicit(self, name: str) -> LadderChoice:
        """An explicit model: one rung on it, with its fallbacks."""
        chosen = self.catalog.get(name)
        self._refuse_retired(chosen)
        cost = self.cost(chosen)
        if self.limit is not None and cost > self.limit:
            raise RoutingError(
                f"model {chosen.id} is estimated at ${cost} for this task, over the"
                f" {self.limit_name} of ${self.limit}"
            )
        if not self.fits_context(chosen):
            raise RoutingError(
                f"the task's context (~{self.per_turn} tokens a turn) exceeds {chosen.id}'s window"
                f" of {chosen.context_window} tokens"
            )
        reason = f"explicit model '{name}' ({self.estimate.level} task)"
        return self.choice([chosen], reason, p=None, ladder=None)

    def auto(self, prior: OutcomePrior, stats: OutcomeStats | None, policy: PolicySettings,
             scope: str) -> LadderChoice:  # fmt: skip
        level = self.estimate.level
        options, skipped = self.options()
        top_tier = self.pinned_top(options)
        names = {o.tier: _short(self.catalog.get(o.model)) for o in options}
        known = all(tier in prior.tiers for tier in names)
        odds = Odds(prior if known else None, stats, policy, level, scope,
                    {o.tier: o.model for o in options})  # fmt: skip
        chosen = best_ladder(options, odds, has_checks=self.has_checks, limit_usd=self.limit,
                             top_tier=top_tier) if known else self.by_map(options, top_tier)  # fmt: skip
        if chosen is None:
            rejected = skipped + [f"{o.model} ~${o.cost_usd}" for o in options]
            raise RoutingError(
                f"no model fits this {level} task: {'; '.join(rejected) or 'no usable model'}"
                + (f" (the {self.limit_name} is ${self.limit})" if self.limit is not None else "")
            )
        notes = list(skipped)
        if known:
            unlimited = best_ladder(options, odds, has_checks=self.has_checks, limit_usd=None,
                                    top_tier=top_tier)  # fmt: skip
            forced = chosen.tiers[0] in policy.verify_only and chosen.tiers[-1] != top_tier
            if len(chosen.rungs) == 1 and forced:
                notes.append(f"only {names[chosen.tiers[0]]} fits the {self.limit_name} of"
                             f" ${self.limit}")  # fmt: skip
            elif unlimited is not None and unlimited.tiers != chosen.tiers:
                over = [names[t] for t in unlimited.tiers if t not in chosen.tiers]
                notes.append(f"{' + '.join(over) or 'a longer ladder'} over the {self.limit_name}"
                             f" of ${self.limit}")  # fmt: skip
            notes += history_notes(chosen, odds, options, has_checks=self.has_checks,
                                   limit_usd=self.limit, top_tier=top_tier, names=names)  # fmt: skip
        else:
            notes.append("no outcome data for these tiers: level map")
        if top_tier is not None and self.settings is not None:
            notes.append(f"[routing.tiers] {level} = '{self.settings.tiers[level]}'")
        p = {o.model: round(v, 3) for o in options if (v := odds.p(o.tier)) is not None}
        what = f"{level} task{', checks' if self.has_checks else ''}: "
        what += " -> ".join(names[t] for t in chosen.tiers)
        if known:
            what += f" (P(resolve) {chosen.resolve:.2f}, expected cost ${chosen.expected_cost_usd})"
        reason = "; ".join([what, *notes])
        models = [self.catalog.get(r.model) for r in chosen.rungs]
        return self.choice(models, reason, p=p or None, ladder=chosen if known else None)

    def options(self) -> tuple[list[TierOption], list[str]]:
        """The usable model of each tier with one attempt's cost; notes on what was left out."""
        options, skipped = [], []
        for tier in self.catalog.tiers:
            try:
                pick = self.catalog.tier_model(tier, self.today)
            except RoutingError:
                continue
            if not self.fits_context(pick):
                skipped.append(
                    f"{pick.id} context window {pick.context_window} tokens is too small"
                )
                continue
            options.append(TierOption(tier, pick.id, self.cost(pick)))
        return options, skipped

    def pinned_top(self, options: list[TierOption]) -> str | None:
        """`[routing.tiers] LEVEL = tier or model` pins the ladder's top rung."""
        level = self.estimate.level
        configured = self.settings.tiers.get(level) if self.settings is not None else None
        if not configured:
            return None
        try:
            target = self.catalog.resolve(configured, self.today)
            self._refuse_retired(target)
        except RoutingError as exc:
            raise RoutingError(f"[routing.tiers] {level} = '{configured}': {exc}") from None
        for i, option in enumerate(options):
            if option.tier == target.tier:
                options[i] = TierOption(target.tier, target.id, self.cost(target))
                return target.tier
        raise RoutingError(f"[routing.tiers] {level} = '{configured}': {target.id} cannot run this"
                           " task (context window)")  # fmt: skip

    def by_map(self, options: list[TierOption], top_tier: str | None) -> Ladder | None:
        """Without outcome data: the level map's tier (or the best cheaper one that fits); with
        checks, every tier from the cheapest up to it, dropping the cheapest while over the limit."""
        level = self.estimate.level
        target = (
            top_tier or self.catalog.resolve(self.catalog.levels.get(level, ""), self.today).tier
        )
        ranks = [o for o in options if self.catalog.tiers.index(o.tier)
                 <= self.catalog.tiers.index(target)]  # fmt: skip
        for top in range(len(ranks), 0, -1):
            rungs = ranks[:top] if self.has_checks else ranks[top - 1 : top]
            while rungs and self.limit is not None and sum(r.cost_usd for r in rungs) > self.limit:
                rungs = rungs[1:]
            if rungs:
                return Ladder(tuple(rungs), 0.0, rungs[0].cost_usd, 0.0)
        return None

    def choice(self, models: list[ModelInfo], reason: str, *, p: Mapping[str, float] | None,
               ladder: Ladder | None) -> LadderChoice:  # fmt: skip
        rung_ids = {m.id for m in models}
        rungs, warnings, spent = [], [], Decimal(0)
        for model in models:
            room = None if self.limit is None else self.limit - spent
            chain = [
                f for f in fallback_chain(model, self.catalog, self.settings, self.today)
                if f not in rung_ids
                and self.catalog.get(f).lifecycle(self.today) != "retired"
                and (room is None or self.cost(self.catalog.get(f)) <= room)
            ]  # fmt: skip
            rungs.append(Rung(model.id, tuple(chain)))
            spent += self.cost(model)
            for name in (model.id, *chain):
                warning = self._deprecation(self.catalog.get(name))
                if warning and warning not in warnings:
                    warnings.append(warning)
        return LadderChoice(
            rungs=tuple(rungs), level=self.estimate.level, p=p,
            estimated_cost_usd=self.cost(models[0]), reason=reason, warnings=tuple(warnings),
            score=self.estimate.score, signals=self.estimate.signals,
            p_resolve=None if ladder is None or p is None else ladder.resolve,
            expected_cost_usd=None if ladder is None or p is None else ladder.expected_cost_usd,
            rung_costs_usd=tuple(self.cost(m) for m in models), tokens=self.tokens,
            cost_limit_usd=self.limit,
        )  # fmt: skip

    def cost(self, model: ModelInfo) -> Decimal:
        return price_call(model, self.tokens.input_tokens, self.tokens.output_tokens)

    @property
    def per_turn(self) -> int:
        return self.tokens.input_tokens // max(self.tokens.turns, 1)

    def fits_context(self, model: ModelInfo) -> bool:
        """Does one turn's context (task, files, overhead) fit the model's window?"""
        return self.per_turn <= model.context_window

    def _refuse_retired(self, model: ModelInfo) -> None:
        if model.lifecycle(self.today) == "retired":
            successor = self.catalog.successor(model, self.today)
            raise RoutingError(
                f"model {model.id} was retired on {model.retires_on}"
                + (f"; use {successor.id}" if successor else "")
            )

    def _deprecation(self, model: ModelInfo) -> str | None:
        if model.lifecycle(self.today) != "deprecated":
            return None
        successor = self.catalog.successor(model, self.today)
        return (
            f"model {model.id} is deprecated"
            + (f" and retires on {model.retires_on}" if model.retires_on else "")
            + (f": move to {successor.id}" if successor else "")
        )


def fallback_chain(
    model: ModelInfo,
    catalog: Catalog,
    settings: RoutingSettings | None = None,
    today: date | None = None,
) -> list[str]:
    """Model ids to try after `model` fails over: configured chain by model id, alias or tier
    (a tier named in a chain means its current model on `today`, when given)."""
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
            fallback = catalog.resolve(name, today)
        except RoutingError as exc:
            raise RoutingError(f"fallback chain of {model.id}: {exc}") from None
        if fallback.id != model.id and fallback.id not in ids:
            ids.append(fallback.id)
    return ids


def _short(model: ModelInfo) -> str:
    """A model's name in reasons: its first alias, else its id."""
    return model.aliases[0] if model.aliases else model.id
