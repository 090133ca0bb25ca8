"""The project's rung outcomes in the real store: recording (migration 0003), counting, stats."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.errors import RoutingError
from buildrunner.routing.history import outcome_stats, record_rung
from buildrunner.store.db import Store, transaction

HAIKU, SONNET = "claude-haiku-4-5-20251001", "claude-sonnet-4-6"


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    return Store(tmp_path).connect()


def rung(conn: sqlite3.Connection, task: str, model: str, number: int, *, accepted: bool,
         rounds: int = 0, cost: str = "0.01", level: str = "moderate", ts: float = 1000.0,
         session: str = "s1") -> None:  # fmt: skip
    record_rung(
        conn, session_id=session, task_id=task, level=level, model=model, rung=number,
        fix_rounds=rounds, accepted=accepted, first_try=accepted and rounds == 0,
        cost_usd=Decimal(cost), ts=ts,
    )  # fmt: skip


def test_recorded_rungs_are_counted_per_level_model_and_first_or_escalated(
    conn: sqlite3.Connection,
) -> None:
    with transaction(conn):  # the build loop records inside its own transaction
        rung(conn, "a", HAIKU, 0, accepted=False, rounds=2, cost="0.02")
        rung(conn, "a", SONNET, 1, accepted=True, rounds=1, cost="0.09")
        rung(conn, "b", HAIKU, 0, accepted=True, cost="0.01")
        rung(conn, "c", SONNET, 0, accepted=True, cost="0.05", level="simple")
    stats = outcome_stats(conn)
    assert stats.counts(["moderate"], HAIKU, escalated=False) == (2, 1)
    assert stats.counts(["moderate"], SONNET, escalated=True) == (1, 1)
    assert stats.counts(["moderate"], SONNET, escalated=False) == (0, 0)
    assert stats.counts(["moderate", "simple"], SONNET, escalated=False) == (1, 1)
    rows = {(r.level, r.model): r for r in stats.by_level_model()}
    haiku = rows[("moderate", HAIKU)]
    assert (haiku.attempts, haiku.started, haiku.accepted, haiku.first_try) == (2, 2, 1, 1)
    assert haiku.mean_rounds == 1.0 and haiku.cost_per_accepted_usd == Decimal("0.030000")
    sonnet = rows[("moderate", SONNET)]
    assert sonnet.first_try_rate == 0.0 and sonnet.acceptance_rate == 1.0
    data = sonnet.to_dict()
    assert data["escalated"] == 1 and data["cost_per_accepted_usd"] == "0.090000"
    # level order first (simple before moderate), then most attempts
    assert [(r.level, r.model) for r in stats.by_level_model()] == [
        ("simple", SONNET), ("moderate", HAIKU), ("moderate", SONNET),
    ]  # fmt: skip


def test_a_rerun_rung_replaces_its_earlier_outcome_and_since_filters(
    conn: sqlite3.Connection,
) -> None:
    rung(conn, "a", HAIKU, 0, accepted=False, ts=1000.0)
    rung(conn, "a", HAIKU, 0, accepted=True, ts=2000.0)  # resumed: same session, task and rung
    rung(conn, "a", HAIKU, 0, accepted=False, ts=3000.0, session="s2")  # another session: kept
    assert outcome_stats(conn).counts(["moderate"], HAIKU, escalated=False) == (2, 1)
    assert outcome_stats(conn, since=2500.0).counts(["moderate"], HAIKU, escalated=False) == (1, 0)
    assert outcome_stats(conn, since=9999.0).by_level_model() == []


def test_a_model_with_no_acceptance_has_no_cost_per_accepted(conn: sqlite3.Connection) -> None:
    rung(conn, "a", HAIKU, 0, accepted=False, cost="0.02")
    (row,) = outcome_stats(conn).by_level_model()
    assert row.cost_per_accepted_usd is None and row.to_dict()["cost_per_accepted_usd"] is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"level": "epic"}, "unknown complexity level 'epic'"),
        ({"rung": -1}, "must be >= 0"),
        ({"fix_rounds": -2}, "must be >= 0"),
        ({"cost_usd": Decimal("-0.01")}, "cannot be negative"),
        ({"first_try": True, "accepted": False}, "first_try means accepted"),
        ({"first_try": True, "fix_rounds": 1}, "first_try means accepted"),
    ],
)
def test_bad_outcomes_are_refused(conn: sqlite3.Connection, changes: dict[str, object],
                                  message: str) -> None:  # fmt: skip
    values: dict[str, object] = {
        "session_id": "s", "task_id": "t", "level": "simple", "model": HAIKU, "rung": 0,
        "fix_rounds": 0, "accepted": True, "first_try": True, "cost_usd": Decimal("0.01"),
    }  # fmt: skip
    values.update(changes)
    with pytest.raises(RoutingError, match=message):
        record_rung(conn, **values)  # type: ignore[arg-type]
    assert conn.execute("SELECT COUNT(*) FROM routing_outcomes").fetchone()[0] == 0


def test_money_is_stored_exactly_as_micro_dollars(conn: sqlite3.Connection) -> None:
    rung(conn, "a", HAIKU, 0, accepted=True, cost="0.1234565")
    assert conn.execute("SELECT cost_micro_usd FROM routing_outcomes").fetchone()[0] == 123457
