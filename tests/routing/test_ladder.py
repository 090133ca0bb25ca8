"""`select_ladder`, the API the build loop calls: rungs, fallbacks, P(resolve), limits, lifecycle,
history and catalogs without outcome data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from buildrunner.config import RoutingSettings
from buildrunner.errors import BudgetExceededError, RoutingError
from buildrunner.routing.catalog import load_catalog, parse_catalog
from buildrunner.routing.estimator_base import Estimate
from buildrunner.routing.history import OutcomeCell, OutcomeStats
from buildrunner.routing.ladder import LadderChoice, Rung, select_ladder

CATALOG = load_catalog()
HAIKU, SONNET, OPUS = (CATALOG.get(n).id for n in ("haiku", "sonnet", "opus"))
TODAY = date(2026, 11, 30)
TEXT = "Make the CSV export keep the column order the user chose"


def ladder(level: str, **kwargs: object) -> LadderChoice:
    return select_ladder(TEXT, estimate=Estimate(level, 50.0), today=TODAY, **kwargs)  # type: ignore[arg-type]


def test_a_task_without_checks_gets_one_rung_and_one_with_checks_a_ladder() -> None:
    plain = ladder("moderate")
    assert plain.rungs == (Rung(SONNET, (OPUS,)),) and plain.level == "moderate"
    checked = ladder("moderate", has_checks=True)
    # the next rung is not also a fallback of the one before: climbing does that job
    assert checked.rungs == (Rung(HAIKU, ()), Rung(SONNET, (OPUS,)))
    assert checked.estimated_cost_usd == checked.rung_costs_usd[0] < checked.rung_costs_usd[1]
    assert checked.p is not None and set(checked.p) == {HAIKU, SONNET, OPUS}
    assert checked.p[HAIKU] < checked.p[SONNET] <= checked.p[OPUS]
    assert checked.p_resolve is not None and checked.p_resolve > checked.p[SONNET] - 0.05
    assert checked.reason.startswith("moderate task, checks: haiku -> sonnet (P(resolve) 0.")
    complex_checked = ladder("complex", has_checks=True)
    assert complex_checked.models[-1] == OPUS and complex_checked.models[0] == HAIKU


def test_a_multi_file_task_does_not_start_on_haiku() -> None:
    choice = select_ladder(TEXT, files=["app/a.py", "lib/b.py"], has_checks=True,
                           estimate=Estimate("simple", 50.0), today=TODAY)  # fmt: skip
    assert choice.models[0] != HAIKU  # Haiku resolved none of the dev set's multi-file tasks


def test_an_explicit_model_is_one_rung_with_its_fallbacks_whatever_the_checks() -> None:
    choice = ladder("simple", model="opus", has_checks=True)
    assert choice.rungs == (Rung(OPUS, (SONNET,)),) and choice.p is None
    assert choice.reason == "explicit model 'opus' (simple task)"
    with pytest.raises(RoutingError, match="unknown model 'gpt-9'"):
        ladder("simple", model="gpt-9")


def test_limits_drop_rungs_that_could_not_be_paid_for() -> None:
    full = ladder("moderate", has_checks=True)
    haiku, sonnet = full.rung_costs_usd
    just_sonnet = ladder("moderate", has_checks=True, cost_limit_usd=sonnet)
    assert just_sonnet.models == [SONNET]
    assert just_sonnet.reason.endswith(f"haiku over the cost limit of ${sonnet}")
    forced = ladder(
        "moderate", has_checks=True, cost_limit_usd=haiku, remaining_budget_usd=Decimal(5)
    )
    assert forced.models == [HAIKU] and forced.reason.endswith(
        f"only haiku fits the cost limit of ${haiku}"
    )
    with pytest.raises(
        RoutingError,
        match=r"no model fits this moderate task: .* \(the remaining budget is \$0.000001\)",
    ):
        ladder("moderate", remaining_budget_usd=Decimal("0.000001"))
    with pytest.raises(BudgetExceededError):
        ladder("moderate", remaining_budget_usd=Decimal("-0.5"))


def test_a_project_whose_haiku_rungs_keep_failing_stops_starting_there_visibly() -> None:
    failing = OutcomeStats((OutcomeCell("moderate", HAIKU, False, 12, 0, 0, 24, Decimal("0.5")),))
    choice = ladder("moderate", has_checks=True, stats=failing)
    assert choice.models == [SONNET]
    assert "not starting on haiku: this project's haiku first rungs at moderate level were" \
           " accepted 0 of 12 times" in choice.reason  # fmt: skip
    assert choice.p is not None and choice.p[HAIKU] < ladder("moderate", has_checks=True).p[HAIKU]  # type: ignore[index]
    # a project whose Haiku rungs pass keeps starting there, with nothing to explain
    passing = OutcomeStats((OutcomeCell("moderate", HAIKU, False, 12, 11, 10, 2, Decimal("0.2")),))
    kept = ladder("moderate", has_checks=True, stats=passing)
    assert kept.models[0] == HAIKU and "this project" not in kept.reason


def test_deprecated_models_warn_and_retired_ones_are_never_picked() -> None:
    text = (
        'tiers = ["small", "big"]\n'
        '[[models]]\nid = "small-old"\ntier = "small"\ninput_per_mtok = 1\noutput_per_mtok = 5\n'
        "retires_on = 2026-11-30\n"
        '[[models]]\nid = "small-new"\ntier = "small"\ninput_per_mtok = 1\noutput_per_mtok = 5\n'
        '[[models]]\nid = "big-aging"\ntier = "big"\ninput_per_mtok = 5\noutput_per_mtok = 25\n'
        "deprecated_on = 2026-10-01\nretires_on = 2027-01-22\n"
        '[fallbacks]\nbig = ["small-old", "small-new"]\n'
    )
    catalog = parse_catalog(text, "test.toml")
    choice = select_ladder(TEXT, estimate=Estimate("complex", 80.0), catalog=catalog, today=TODAY)
    assert choice.models == ["big-aging"]
    assert choice.rungs[0].fallbacks == ("small-new",)  # the retired one is dropped from the chain
    assert choice.warnings == ("model big-aging is deprecated and retires on 2027-01-22",)
    assert "small-old" not in select_ladder(TEXT, estimate=Estimate("simple", 9.0),
                                            catalog=catalog, today=TODAY).models  # fmt: skip
    with pytest.raises(RoutingError, match="small-old was retired on 2026-11-30; use small-new"):
        select_ladder(TEXT, model="small-old", catalog=catalog, today=TODAY)


def test_a_catalog_without_outcome_data_falls_back_to_its_level_map() -> None:
    text = "".join(
        f'[[models]]\nid = "{name}"\ntier = "{tier}"\ninput_per_mtok = {price}\noutput_per_mtok = {price}\n'
        for name, tier, price in (("a", "low", 1), ("b", "mid", 2), ("c", "top", 4))
    )
    catalog = parse_catalog(text, "test.toml")
    plain = select_ladder(TEXT, estimate=Estimate("moderate", 50.0), catalog=catalog, today=TODAY)
    assert plain.models == ["b"] and plain.p is None
    assert plain.reason == "moderate task: b; no outcome data for these tiers: level map"
    checked = select_ladder(TEXT, estimate=Estimate("complex", 50.0), catalog=catalog, has_checks=True,
                            today=TODAY)  # fmt: skip
    assert checked.models == ["a", "b", "c"]
    top_cost = checked.rung_costs_usd[2]
    capped = select_ladder(TEXT, estimate=Estimate("complex", 50.0), catalog=catalog, has_checks=True,
                           cost_limit_usd=top_cost, today=TODAY)  # fmt: skip
    assert capped.models == ["c"]  # the cheapest rungs go first


def test_a_pinned_level_ends_the_ladder_on_its_tier() -> None:
    settings = RoutingSettings(tiers={"simple": "opus"})
    choice = ladder("simple", has_checks=True, settings=settings)
    assert choice.models[-1] == OPUS and choice.reason.endswith("[routing.tiers] simple = 'opus'")
    assert ladder("simple", settings=settings).models == [OPUS]
    # pinning the fast tier is the user's call: Haiku alone, unverified, without a money excuse
    haiku = ladder("simple", settings=RoutingSettings(tiers={"simple": "haiku"}))
    assert haiku.models == [HAIKU] and "fits the" not in haiku.reason


def test_to_dict_is_json_ready() -> None:
    data = ladder("simple", has_checks=True, cost_limit_usd=Decimal(1)).to_dict()
    assert data["model"] == HAIKU and data["ladder"] == [HAIKU, SONNET]
    assert [r["model"] for r in data["rungs"]] == data["ladder"] and data["fallbacks"] == []
    assert data["cost_limit_usd"] == "1" and isinstance(data["p"], dict)
    assert Decimal(data["expected_cost_usd"]) > Decimal(data["estimated_cost_usd"])
