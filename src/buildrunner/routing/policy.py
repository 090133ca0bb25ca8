"""The routing decision, judged by outcomes: which ladder of tiers a task should climb.

For a task, each usable tier has an estimated cost and a probability of resolving it: first, or
after the cheaper tiers before it failed. The probabilities start from the dev-data prior
(`prior.py`, by level and scope) and move with the project's own judged rungs (`history.py`): a
Beta prior worth `prior_strength` outcomes, updated with the counts of this level and model. Every
candidate ladder is scored

    value_of_resolve * P(some rung resolves) - E[cost] / cost of one attempt on the dearest tier

(`data/policy.toml`) and the best one wins. A task without checks gets one rung; tiers in
`verify_only` (Haiku) only start a checked ladder, or run alone when a cost limit forces it.
Everything here is pure: no catalog, no database, no clock.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from itertools import combinations
from typing import TYPE_CHECKING, Any

from buildrunner.routing.costs import MICRO
from buildrunner.routing.prior import OutcomePrior

if TYPE_CHECKING:
    from buildrunner.routing.history import OutcomeStats

POLICY_FILE = "data/policy.toml"


@dataclass(frozen=True)
class PolicySettings:
    value_of_resolve: float = 3.0
    prior_strength: float = 10.0
    shrink: float = 5.0
    max_rungs: int = 3
    verify_only: tuple[str, ...] = ("fast",)
    level_pools: Mapping[str, str] = field(default_factory=dict)

    def pooled_levels(self, level: str) -> tuple[str, ...]:
        """The levels whose outcomes count for `level` (itself and those pooled with it)."""
        target = self.level_pools.get(level, level)
        others = [name for name, pool in self.level_pools.items() if pool == target]
        return tuple(dict.fromkeys([level, target, *others]))


def policy_for(settings: Any) -> PolicySettings:
    """The shipped policy with the project's `[routing] value_of_resolve`, when it sets one."""
    policy = load_policy()
    value = getattr(settings, "value_of_resolve", None)
    return policy if value is None else replace(policy, value_of_resolve=float(value))


@lru_cache(maxsize=1)
def load_policy() -> PolicySettings:
    """The shipped policy preferences (`routing/data/policy.toml`)."""
    text = resources.files("buildrunner.routing").joinpath(POLICY_FILE).read_text("utf-8")
    data = tomllib.loads(text)
    return PolicySettings(
        value_of_resolve=float(data["value_of_resolve"]),
        prior_strength=float(data["prior_strength"]),
        shrink=float(data["shrink"]),
        max_rungs=int(data["max_rungs"]),
        verify_only=tuple(str(t) for t in data.get("verify_only", ())),
        level_pools={str(k): str(v) for k, v in data.get("level_pools", {}).items()},
    )


@dataclass(frozen=True)
class TierOption:
    """A tier a task could run on: the model it would use and one attempt's estimated cost."""

    tier: str
    model: str
    cost_usd: Decimal


@dataclass(frozen=True)
class Odds:
    """P(resolve) of each tier for one task: the prior, moved by the project's history."""

    prior: OutcomePrior | None
    stats: OutcomeStats | None
    policy: PolicySettings
    level: str
    scope: str
    models: Mapping[str, str]  # tier -> model id (history is kept per model)
    _memo: dict[tuple[str, tuple[str, ...]], float | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def p(self, tier: str, after: tuple[str, ...] = ()) -> float | None:
        """P(tier resolves the task | the `after` tiers failed first), or None if unknown."""
        key = (tier, after)
        if key not in self._memo:
            self._memo[key] = self._p(tier, after)
        return self._memo[key]

    def _p(self, tier: str, after: tuple[str, ...]) -> float | None:
        if self.prior is None:
            return None
        base = self.prior.rate(self.level, self.scope, tier, after)
        if base is None:
            return None
        attempts, accepted = self.history(tier, escalated=bool(after))
        strength = self.policy.prior_strength
        return (strength * base + accepted) / (strength + attempts)

    def history(self, tier: str, *, escalated: bool) -> tuple[int, int]:
        """(attempts, accepted) this project recorded for the tier's model at this level."""
        model = self.models.get(tier)
        if self.stats is None or model is None:
            return 0, 0
        levels = self.policy.pooled_levels(self.level)
        return self.stats.counts(levels, model, escalated=escalated)

    def without_history(self) -> Odds:
        return Odds(self.prior, None, self.policy, self.level, self.scope, self.models)


@dataclass(frozen=True)
class Ladder:
    """A candidate ladder scored: P(some rung resolves), expected cost, utility."""

    rungs: tuple[TierOption, ...]
    resolve: float
    expected_cost_usd: Decimal
    utility: float

    @property
    def tiers(self) -> tuple[str, ...]:
        return tuple(r.tier for r in self.rungs)


def score(rungs: Sequence[TierOption], odds: Odds, reference_cost: Decimal,
          value: float) -> Ladder | None:  # fmt: skip
    """Expected resolve and cost of climbing `rungs`; None when a probability is unknown."""
    reach, resolve, expected = 1.0, 0.0, 0.0
    failed: tuple[str, ...] = ()
    for rung in rungs:
        p = odds.p(rung.tier, failed)
        if p is None:
            return None
        expected += float(rung.cost_usd) * reach
        resolve += reach * p
        reach *= 1 - p
        failed += (rung.tier,)
    utility = value * resolve - expected / (float(reference_cost) or 1.0)
    return Ladder(tuple(rungs), resolve, Decimal(repr(expected)).quantize(MICRO), utility)


def candidates(options: Sequence[TierOption], *, has_checks: bool, policy: PolicySettings,
               forced: bool = False) -> Iterator[tuple[TierOption, ...]]:  # fmt: skip
    """Ladders to consider, cheapest tiers first within each. Unforced: a task without checks gets
    one rung, never a verify-only tier; with checks a verify-only tier only starts a ladder of two or
    more. Forced (nothing else fits the money): any single tier."""
    if forced:
        yield from ((option,) for option in options)
        return
    sizes = range(1, min(policy.max_rungs, len(options)) + 1) if has_checks else (1,)
    for size in sizes:
        for ladder in combinations(options, size):
            verify_only = [i for i, r in enumerate(ladder) if r.tier in policy.verify_only]
            if any(i > 0 for i in verify_only) or (verify_only and size == 1):
                continue
            yield ladder


def best_ladder(options: Sequence[TierOption], odds: Odds, *, has_checks: bool,
                limit_usd: Decimal | None, top_tier: str | None = None) -> Ladder | None:  # fmt: skip
    """The best-scoring ladder whose rungs could all be paid for within `limit_usd` (and, when
    `top_tier` is given, that ends on it); forced single rungs when no other fits; None if none
    fits or the odds are unknown."""
    if not options:
        return None
    reference = max(option.cost_usd for option in options)
    value = odds.policy.value_of_resolve
    for forced in (False, True):
        scored = []
        for rungs in candidates(options, has_checks=has_checks, policy=odds.policy, forced=forced):
            if top_tier is not None and rungs[-1].tier != top_tier:
                continue
            if limit_usd is not None and sum(r.cost_usd for r in rungs) > limit_usd:
                continue
            ladder = score(rungs, odds, reference, value)
            if ladder is None:
                return None
            scored.append(ladder)
        if scored:
            # best utility; ties go to fewer rungs, then the cheaper expectation
            return max(scored, key=lambda c: (round(c.utility, 9), -len(c.rungs),
                                              -c.expected_cost_usd))  # fmt: skip
    return None


def history_notes(chosen: Ladder, odds: Odds, options: Sequence[TierOption], *, has_checks: bool,
                  limit_usd: Decimal | None, top_tier: str | None,
                  names: Mapping[str, str]) -> list[str]:  # fmt: skip
    """Why the project's own outcomes changed the choice (empty when they did not)."""
    if odds.stats is None:
        return []
    prior_only = best_ladder(options, odds.without_history(), has_checks=has_checks,
                             limit_usd=limit_usd, top_tier=top_tier)  # fmt: skip
    if prior_only is None or prior_only.tiers == chosen.tiers:
        return []
    notes = []
    for tier in prior_only.tiers:
        if tier in chosen.tiers:
            continue
        started = prior_only.tiers[0] == tier
        attempts, accepted = odds.history(tier, escalated=not started)
        what = f"not starting on {names[tier]}" if started else f"no {names[tier]} rung"
        notes.append(
            f"{what}: this project's {names[tier]} {'first ' if started else 'escalated '}rungs at"
            f" {odds.level} level were accepted {accepted} of {attempts} times"
        )
    for tier in chosen.tiers:
        if tier not in prior_only.tiers:
            started = chosen.tiers[0] == tier
            attempts, accepted = odds.history(tier, escalated=not started)
            notes.append(
                f"{names[tier]} {'first' if started else 'added'}: accepted {accepted} of"
                f" {attempts} times in this project at {odds.level} level"
            )
    return notes
