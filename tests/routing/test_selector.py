"""One model per task (`select_model`, the one-rung ladder): the new level map, overrides, cost
limits, budgets, fallbacks, lifecycle, and routes of plan tasks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.config import RoutingSettings, Settings
from buildrunner.errors import BudgetExceededError, RoutingError
from buildrunner.parallel.plan import TaskSpec
from buildrunner.routing.catalog import load_catalog, price_call
from buildrunner.routing.estimator_base import Estimate
from buildrunner.routing.selector import fallback_chain, route_task, select_model
from buildrunner.routing.tokens import estimate_tokens

CATALOG = load_catalog()
HAIKU, SONNET, OPUS = (CATALOG.get(n).id for n in ("haiku", "sonnet", "opus"))
TEXT = "Add password reset to the auth module with tests"


def at(level: str) -> Estimate:
    return Estimate(level, 50.0, {}, "test")


@pytest.mark.parametrize(
    ("level", "model"),
    [("simple", SONNET), ("moderate", SONNET), ("complex", OPUS), ("critical", OPUS)],
)
def test_the_data_supported_map_never_sends_an_unverified_task_to_haiku(
    level: str, model: str
) -> None:
    selection = select_model(TEXT, estimate=at(level), catalog=CATALOG)
    assert selection.model.id == model and selection.level == level
    tokens = estimate_tokens(TEXT, level)
    assert selection.estimated_input_tokens == tokens.input_tokens
    assert selection.estimated_cost_usd == price_call(
        selection.model, tokens.input_tokens, tokens.output_tokens
    )
    alias = selection.model.aliases[0]
    assert selection.reason.startswith(f"{level} task: {alias} (P(resolve) 0.")
    # the shipped catalog's [levels] says the same, for callers with no outcome data
    assert CATALOG.resolve(CATALOG.levels[level]).id == model


def test_tiers_setting_overrides_the_mapping_with_a_tier_or_a_model() -> None:
    settings = RoutingSettings(tiers={"complex": "balanced", "simple": "opus"})
    assert select_model(TEXT, estimate=at("complex"), settings=settings).model.id == SONNET
    assert select_model(TEXT, estimate=at("simple"), settings=settings).model.id == OPUS
    bad = RoutingSettings(tiers={"simple": "gpt-9"})
    with pytest.raises(RoutingError, match=r"\[routing.tiers\] simple = 'gpt-9': unknown model"):
        select_model(TEXT, estimate=at("simple"), settings=bad)


def test_cost_limit_walks_down_to_the_best_tier_that_fits() -> None:
    tokens = estimate_tokens(TEXT, "complex")
    opus_cost = price_call(CATALOG.get("opus"), tokens.input_tokens, tokens.output_tokens)
    sonnet_cost = price_call(CATALOG.get("sonnet"), tokens.input_tokens, tokens.output_tokens)
    assert sonnet_cost < opus_cost
    selection = select_model(TEXT, estimate=at("complex"), cost_limit_usd=sonnet_cost)
    assert selection.model.id == SONNET
    assert selection.reason.endswith(f"opus over the cost limit of ${sonnet_cost}")
    assert selection.estimated_cost_usd <= sonnet_cost
    # the fallback chain keeps only models that fit the limit: sonnet's is opus, which does not
    assert selection.fallbacks == []
    assert select_model(TEXT, estimate=at("complex"), cost_limit_usd=opus_cost).model.id == OPUS


def test_nothing_fits_is_a_clear_error() -> None:
    with pytest.raises(
        RoutingError, match=r"no model fits this complex task: .*\$.*cost limit is \$0.0001"
    ):
        select_model(TEXT, estimate=at("complex"), cost_limit_usd=Decimal("0.0001"))


def test_remaining_budget_is_a_limit_too_and_only_it_can_force_haiku() -> None:
    selection = select_model(TEXT, estimate=at("complex"), cost_limit_usd=Decimal(10),
                             remaining_budget_usd=Decimal("0.20"))  # fmt: skip
    assert selection.model.id == HAIKU
    assert selection.reason.endswith("only haiku fits the remaining budget of $0.20")
    assert selection.cost_limit_usd == Decimal("0.20")


def test_a_spent_budget_is_a_budget_error_not_a_routing_error() -> None:
    with pytest.raises(BudgetExceededError, match="the budget is spent"):
        select_model(TEXT, estimate=at("simple"), remaining_budget_usd=Decimal(0))


def test_default_cost_limit_from_settings_applies_without_a_task_limit() -> None:
    settings = RoutingSettings(default_cost_limit_usd=0.0001)
    with pytest.raises(RoutingError, match="default cost limit"):
        select_model(TEXT, estimate=at("simple"), settings=settings)


def test_explicit_model_override() -> None:
    selection = select_model(TEXT, model="opus", estimate=at("simple"))
    assert selection.model.id == OPUS and "explicit model 'opus'" in selection.reason
    with pytest.raises(RoutingError, match="over the cost limit"):
        select_model(TEXT, model="opus", estimate=at("simple"), cost_limit_usd=Decimal("0.001"))
    with pytest.raises(RoutingError, match="unknown model"):
        select_model(TEXT, model="gpt-9", estimate=at("simple"))


def test_fallback_chains_default_and_configured() -> None:
    # availability fallbacks never drop to the fast tier
    assert fallback_chain(CATALOG.get("opus"), CATALOG) == [SONNET]
    assert fallback_chain(CATALOG.get("sonnet"), CATALOG) == [OPUS]
    settings = RoutingSettings(fallbacks={"advanced": ["haiku"], SONNET: ["opus"]})
    assert fallback_chain(CATALOG.get("opus"), CATALOG, settings) == [HAIKU]
    assert fallback_chain(CATALOG.get("sonnet"), CATALOG, settings) == [OPUS]
    assert select_model(TEXT, estimate=at("complex"), settings=settings).fallbacks == [HAIKU]
    broken = RoutingSettings(fallbacks={"balanced": ["gpt-9"]})
    with pytest.raises(
        RoutingError, match=r"fallback chain of claude-sonnet.*unknown model 'gpt-9'"
    ):
        select_model(TEXT, estimate=at("simple"), settings=broken)


def test_declared_files_raise_the_token_estimate(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("x = 1\n" * 5000, encoding="utf-8")
    without = select_model(TEXT, estimate=at("moderate"), root=tmp_path)
    with_file = select_model(TEXT, files=["big.py", "new.py"], estimate=at("moderate"),
                             root=tmp_path)  # fmt: skip
    assert with_file.estimated_input_tokens > without.estimated_input_tokens
    assert with_file.estimated_output_tokens > without.estimated_output_tokens
    assert with_file.estimated_cost_usd > without.estimated_cost_usd


def test_context_too_big_for_every_model_is_refused(tmp_path: Path) -> None:
    for i in range(6):  # six files at the per-file cap: > 200k tokens a turn
        (tmp_path / f"f{i}.py").write_bytes(b"x" * 400_000)
    files = [f"f{i}.py" for i in range(6)]
    with pytest.raises(RoutingError, match="context window"):
        select_model(TEXT, files=files, estimate=at("simple"), root=tmp_path)
    with pytest.raises(RoutingError, match=r"exceeds .* window"):
        select_model(TEXT, files=files, model="haiku", estimate=at("simple"), root=tmp_path)


def test_route_task_gives_plain_data_for_a_plan_task() -> None:
    task = TaskSpec(id="t", prompt="Fix typo in README", files=["README.md"], model="sonnet",
                    cost_limit_usd=1.0)  # fmt: skip
    route = route_task(task, Settings())
    assert route["model"] == SONNET and route["level"] in ("simple", "moderate")
    assert route["ladder"] == [SONNET] and route["tier"] == "balanced"
    assert Decimal(route["estimated_cost_usd"]) > 0 and Decimal(route["cost_limit_usd"]) == 1


def test_route_task_of_a_checked_task_shows_its_ladder() -> None:
    task = TaskSpec(id="t", prompt="Fix typo in README", files=["README.md"], check=["true"])
    route = route_task(task, Settings())
    assert route["ladder"] == [HAIKU, SONNET] and route["model"] == HAIKU
    unchecked = TaskSpec(id="u", prompt="Fix typo in README", files=["README.md"])
    assert route_task(unchecked, Settings())["ladder"] == [SONNET]
    # a plan-level default check counts too
    assert route_task(unchecked, Settings(), has_checks=True)["ladder"] == [HAIKU, SONNET]


def test_deprecated_and_retired_models_by_date() -> None:
    today = date(2026, 11, 30)
    selection = select_model(TEXT, model="opus-4.5", estimate=at("complex"), today=today)
    assert selection.model.id == "claude-opus-4-5-20251101"
    assert selection.warnings == [
        "model claude-opus-4-5-20251101 is deprecated and retires on 2027-01-22:"
        " move to claude-opus-4-6"
    ]
    assert select_model(TEXT, model="opus", estimate=at("complex"), today=today).warnings == []
    with pytest.raises(RoutingError, match="retired on 2026-11-30; use claude-sonnet-4-6"):
        select_model(TEXT, model="claude-sonnet-4-5-20250929", estimate=at("simple"), today=today)
    # the day before its end of life it still runs (the SDK's table only gives that date)
    before = select_model(TEXT, model="sonnet-4.5", estimate=at("simple"), today=date(2026, 11, 29))
    assert before.model.id == "claude-sonnet-4-5-20250929" and before.warnings == []


def test_a_pinned_tier_whose_models_are_all_retired_names_the_setting() -> None:
    settings = RoutingSettings(tiers={"simple": "sonnet-4.5"})
    with pytest.raises(
        RoutingError,
        match=r"\[routing.tiers\] simple = 'sonnet-4.5': model .* retired on 2026-11-30",
    ):
        select_model(TEXT, estimate=at("simple"), settings=settings, today=date(2026, 11, 30))
