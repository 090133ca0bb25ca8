"""The outcome prior: counting outcome rows into cells, shrinkage of sparse cells, the shipped file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from buildrunner.errors import RoutingError
from buildrunner.routing.policy import load_policy
from buildrunner.routing.prior import (
    DevOutcome,
    OutcomePrior,
    PriorCell,
    count_outcomes,
    load_prior,
    scope_of,
)

TIERS = ("fast", "balanced", "advanced")
REPO = Path(__file__).resolve().parents[2]
DEV_DATA = REPO.parent / "shared" / "data" / "routing-dev.jsonl"


def outcome(level: str, files: int, fast: bool, balanced: bool, advanced: bool) -> DevOutcome:
    return DevOutcome(level, files, {"fast": fast, "balanced": balanced, "advanced": advanced})


def test_count_outcomes_conditions_on_every_set_of_cheaper_tiers_that_failed() -> None:
    rows = [
        outcome("simple", 1, True, True, True),
        outcome("simple", 1, False, True, True),
        outcome("simple", 1, False, False, True),
        outcome("simple", 3, False, False, False),
    ]
    cells = {(c.level, c.scope, c.tier, c.after): (c.trials, c.resolved)
             for c in count_outcomes(rows, TIERS)}  # fmt: skip
    one = "one-file"
    assert cells[("simple", one, "fast", ())] == (3, 1)
    assert cells[("simple", one, "balanced", ("fast",))] == (2, 1)
    assert cells[("simple", one, "advanced", ("fast", "balanced"))] == (1, 1)
    assert cells[("simple", one, "advanced", ("balanced",))] == (1, 1)
    assert cells[("simple", "multi-file", "advanced", ("fast", "balanced"))] == (1, 0)
    # a tier that resolved the row is never in an `after` set for that row
    assert ("simple", one, "balanced", ()) in cells and cells[("simple", one, "balanced", ())] == (
        3,
        2,
    )


def prior(
    cells: list[PriorCell], shrink: float = 5.0, pools: dict[str, str] | None = None
) -> OutcomePrior:
    return OutcomePrior(tuple(cells), TIERS, pools or {}, shrink)


def test_rate_is_the_raw_rate_when_data_is_plenty_and_leans_on_parents_when_sparse() -> None:
    cells = [
        PriorCell("simple", "one-file", "fast", (), 1000, 800),
        PriorCell("complex", "one-file", "fast", (), 1000, 200),
        PriorCell("complex", "multi-file", "fast", (), 2, 2),  # sparse and surprising
    ]
    p = prior(cells)
    assert p.rate("simple", "one-file", "fast") == pytest.approx(0.8, abs=0.002)
    sparse = p.rate("complex", "multi-file", "fast")
    assert sparse is not None and 0.2 < sparse < 0.8  # 2/2 does not make it certain
    assert p.rate("simple", "one-file", "advanced") is None  # no data on the tier at all
    assert p.rate("simple", "one-file", "fast", ("balanced",)) is None
    # with no shrinkage, the cell's own rate
    assert prior(cells, shrink=0.0).rate("complex", "multi-file", "fast") == 1.0


def test_pooled_levels_share_their_counts() -> None:
    cells = [
        PriorCell("complex", "one-file", "advanced", (), 40, 30),
        PriorCell("critical", "one-file", "advanced", (), 1, 0),
        PriorCell("simple", "one-file", "advanced", (), 100, 99),
    ]
    pooled = prior(cells, shrink=0.0, pools={"critical": "complex"})
    assert pooled.rate("critical", "one-file", "advanced") == pytest.approx(30 / 41)
    assert pooled.rate("complex", "one-file", "advanced") == pytest.approx(30 / 41)
    assert prior(cells, shrink=0.0).rate("critical", "one-file", "advanced") == 0.0


def test_scope_of_declared_files() -> None:
    assert scope_of([]) == scope_of(["a.py"]) == "one-file"
    assert scope_of(["a.py", "b.py"]) == "multi-file"


def test_prior_round_trips_through_json_and_bad_files_are_routing_errors(tmp_path: Path) -> None:
    shipped = load_prior(level_pools={"critical": "complex"}, shrink=5.0)
    path = tmp_path / "prior.json"
    path.write_text(json.dumps(shipped.to_json()), encoding="utf-8")
    again = load_prior(level_pools={"critical": "complex"}, shrink=5.0, path=path)
    assert again.cells == shipped.cells
    assert again.rate("moderate", "one-file", "balanced") == shipped.rate(
        "moderate", "one-file", "balanced"
    )
    path.write_text('{"format": 2}', encoding="utf-8")
    with pytest.raises(RoutingError, match="unsupported outcome prior format"):
        load_prior(level_pools={}, shrink=5.0, path=path)
    with pytest.raises(RoutingError, match="cannot load the outcome prior"):
        load_prior(level_pools={}, shrink=5.0, path=tmp_path / "missing.json")


def test_shipped_prior_says_what_the_issue_measured() -> None:
    p = load_prior(level_pools=load_policy().level_pools, shrink=load_policy().shrink)
    assert p.tiers == TIERS
    for level in ("simple", "moderate"):  # Sonnet nearly as good as Opus, Haiku far behind
        fast, balanced, advanced = (p.rate(level, "one-file", t) for t in TIERS)
        assert fast is not None and balanced is not None and advanced is not None
        assert fast < balanced - 0.2 and advanced - balanced < 0.05
    balanced, advanced = (p.rate("complex", "one-file", t) for t in TIERS[1:])
    assert balanced is not None and advanced is not None and advanced - balanced > 0.1
    assert (p.rate("moderate", "multi-file", "fast") or 1) < 0.05  # Haiku solved no multi-file task


def test_shipped_prior_is_the_count_of_the_dev_data() -> None:
    if not DEV_DATA.exists():
        pytest.skip(f"the dev data set is not beside the repository ({DEV_DATA})")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from routing_prior import build_prior, load_rows, to_text

    shipped = (REPO / "src/buildrunner/routing/data/outcome_prior.json").read_text(encoding="utf-8")
    assert to_text(build_prior(load_rows(DEV_DATA))) == shipped, "rerun benchmarks/routing_prior.py"
