"""The routing decision: scoring ladders, which ladders are allowed, limits, history moving the prior."""

from __future__ import annotations

from decimal import Decimal

import pytest

from buildrunner.routing.history import OutcomeCell, OutcomeStats
from buildrunner.routing.policy import (
    Odds,
    PolicySettings,
    TierOption,
    best_ladder,
    candidates,
    history_notes,
    load_policy,
    score,
)
from buildrunner.routing.prior import OutcomePrior, PriorCell

FAST = TierOption("fast", "h", Decimal("0.20"))
BALANCED = TierOption("balanced", "s", Decimal("0.60"))
ADVANCED = TierOption("advanced", "o", Decimal("1.00"))
OPTIONS = (FAST, BALANCED, ADVANCED)
POLICY = PolicySettings(value_of_resolve=3.0, prior_strength=10.0, shrink=0.0, max_rungs=3,
                        verify_only=("fast",))  # fmt: skip


def table(rates: dict[tuple[str, tuple[str, ...]], float], n: int = 1000) -> OutcomePrior:
    """A prior with these exact rates (shrink 0, many trials) for the level `moderate`."""
    cells = tuple(PriorCell("moderate", "one-file", tier, after, n, round(rate * n))
                  for (tier, after), rate in rates.items())  # fmt: skip
    return OutcomePrior(cells, ("fast", "balanced", "advanced"), {}, 0.0)


RATES = {
    ("fast", ()): 0.5, ("balanced", ()): 0.7, ("advanced", ()): 0.75,
    ("balanced", ("fast",)): 0.5, ("advanced", ("fast",)): 0.55,
    ("advanced", ("balanced",)): 0.2, ("advanced", ("fast", "balanced")): 0.2,
}  # fmt: skip


def odds(stats: OutcomeStats | None = None, rates: dict | None = None) -> Odds:  # type: ignore[type-arg]
    return Odds(table(rates or RATES), stats, POLICY, "moderate", "one-file",
                {"fast": "h", "balanced": "s", "advanced": "o"})  # fmt: skip


def test_score_is_the_expected_resolve_and_cost_of_the_climb() -> None:
    ladder = score((FAST, BALANCED), odds(), Decimal(1), 3.0)
    assert ladder is not None
    assert ladder.resolve == pytest.approx(0.5 + 0.5 * 0.5)
    assert ladder.expected_cost_usd == Decimal("0.500000")  # 0.20 + half the time 0.60
    assert ladder.utility == pytest.approx(3.0 * 0.75 - 0.5)
    assert (
        score((FAST,), Odds(None, None, POLICY, "moderate", "one-file", {}), Decimal(1), 3.0)
        is None
    )


def test_which_ladders_are_considered() -> None:
    unchecked = list(candidates(OPTIONS, has_checks=False, policy=POLICY))
    assert unchecked == [(BALANCED,), (ADVANCED,)]  # never Haiku alone, unverified
    checked = list(candidates(OPTIONS, has_checks=True, policy=POLICY))
    assert (FAST,) not in checked and (BALANCED, FAST) not in checked
    assert (FAST, BALANCED) in checked and (FAST, BALANCED, ADVANCED) in checked
    assert all(FAST not in ladder[1:] for ladder in checked)
    assert list(candidates(OPTIONS, has_checks=True, policy=POLICY, forced=True)) == [
        (FAST,), (BALANCED,), (ADVANCED,),
    ]  # fmt: skip
    short = PolicySettings(max_rungs=1, verify_only=())
    assert list(candidates(OPTIONS, has_checks=True, policy=short)) == [(o,) for o in OPTIONS]


def test_best_ladder_under_value_limits_and_pins() -> None:
    chosen = best_ladder(OPTIONS, odds(), has_checks=True, limit_usd=None)
    # haiku -> sonnet: 3 * 0.75 - 0.5 = 1.75 beats sonnet alone (1.5) and adding opus at 0.2
    assert chosen is not None and chosen.tiers == ("fast", "balanced")
    unchecked = best_ladder(OPTIONS, odds(), has_checks=False, limit_usd=None)
    assert unchecked is not None and unchecked.tiers == ("balanced",)
    # a limit below the two rungs' sum drops the ladder; haiku alone only when nothing else fits
    assert best_ladder(OPTIONS, odds(), has_checks=True, limit_usd=Decimal("0.7")).tiers == (
        "balanced",
    )  # type: ignore[union-attr]
    forced = best_ladder(OPTIONS, odds(), has_checks=True, limit_usd=Decimal("0.3"))
    assert forced is not None and forced.tiers == ("fast",)
    assert best_ladder(OPTIONS, odds(), has_checks=True, limit_usd=Decimal("0.1")) is None
    pinned = best_ladder(OPTIONS, odds(), has_checks=True, limit_usd=None, top_tier="advanced")
    assert pinned is not None and pinned.tiers[-1] == "advanced"
    # when opus still wins often after sonnet failed, it is worth a third rung
    hopeful = {**RATES, ("advanced", ("fast", "balanced")): 0.6}
    rich = best_ladder(OPTIONS, odds(rates=hopeful), has_checks=True, limit_usd=None)
    assert rich is not None and rich.tiers == ("fast", "balanced", "advanced")


def stats_of(cells: list[tuple[str, bool, int, int]]) -> OutcomeStats:
    return OutcomeStats(tuple(OutcomeCell("moderate", model, escalated, n, k, k, 0, Decimal(0))
                              for model, escalated, n, k in cells))  # fmt: skip


def test_history_moves_the_prior_and_the_reason_says_so() -> None:
    failing = stats_of([("h", False, 10, 0)])  # this project's haiku first rungs never pass
    moved = odds(failing)
    assert moved.p("fast") == pytest.approx(10 * 0.5 / 20)
    assert moved.p("balanced") == pytest.approx(0.7)  # other tiers keep the prior
    chosen = best_ladder(OPTIONS, moved, has_checks=True, limit_usd=None)
    assert chosen is not None and chosen.tiers == ("balanced",)
    notes = history_notes(chosen, moved, OPTIONS, has_checks=True, limit_usd=None, top_tier=None,
                          names={"fast": "haiku", "balanced": "sonnet", "advanced": "opus"})  # fmt: skip
    assert notes == ["not starting on haiku: this project's haiku first rungs at moderate level"
                     " were accepted 0 of 10 times"]  # fmt: skip
    # good history keeps it, and escalated rungs count only for escalated probabilities
    kept = odds(stats_of([("h", False, 10, 9), ("s", True, 5, 0)]))
    assert kept.p("fast") == pytest.approx((5 + 9) / 20)
    assert kept.p("balanced") == pytest.approx(0.7)
    assert kept.p("balanced", ("fast",)) == pytest.approx(5 / 15)


def test_pooled_levels_and_shipped_policy() -> None:
    policy = load_policy()
    assert policy.pooled_levels("critical") == ("critical", "complex")
    assert policy.pooled_levels("complex") == ("complex", "critical")
    assert policy.pooled_levels("simple") == ("simple",)
    assert policy.verify_only == ("fast",) and policy.value_of_resolve == 3.0
