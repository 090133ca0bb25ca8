"""Cost tracker and budgets over a real SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.errors import BudgetExceededError, RoutingError
from buildrunner.routing.costs import CostTracker, period_start
from buildrunner.store.db import Store

# Wednesday 2026-03-11 12:00 UTC
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC).timestamp()
DAY = 86_400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = Store(tmp_path).connect()
    yield connection
    connection.close()


def record(
    tracker: CostTracker,
    cost: str,
    model: str = "m-small",
    session: str | None = "s1",
    task: str | None = "t1",
    tokens: int = 100,
) -> None:
    tracker.record(session, task, model, "anthropic", tokens, tokens // 2, 0, 0, Decimal(cost),
                   250.0, "success")  # fmt: skip


def test_record_stores_micro_dollars_and_summary_returns_decimal(conn: sqlite3.Connection) -> None:
    tracker = CostTracker(conn, clock=Clock(NOW))
    record(tracker, "0.1234565")  # half-up to 6 decimals
    record(tracker, "0.000001")
    assert [r[0] for r in conn.execute("SELECT cost_micro_usd FROM costs ORDER BY id")] == [
        123457,
        1,
    ]
    total = tracker.summary("all").total
    assert total.cost_usd == Decimal("0.123458")
    assert (total.calls, total.input_tokens, total.output_tokens) == (2, 200, 100)


def test_period_starts_are_utc_calendar_boundaries() -> None:
    assert period_start("day", NOW) == datetime(2026, 3, 11, tzinfo=UTC).timestamp()
    assert period_start("week", NOW) == datetime(2026, 3, 9, tzinfo=UTC).timestamp()  # Monday
    assert period_start("month", NOW) == datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    assert period_start("all", NOW) is None
    with pytest.raises(RoutingError, match="unknown period"):
        period_start("year", NOW)


def test_summary_by_period_and_grouping(conn: sqlite3.Connection) -> None:
    clock = Clock(NOW - 20 * DAY)  # February: outside this month
    tracker = CostTracker(conn, clock=clock)
    record(tracker, "1.00", model="m-big", session="old", task="a")
    clock.now = NOW - 2 * DAY  # Monday this week
    record(tracker, "0.50", model="m-big", session="s1", task="a")
    clock.now = NOW - 60  # today
    record(tracker, "0.20", model="m-small", session="s1", task="b")
    record(tracker, "0.10", model="m-small", session="s2", task="b")
    clock.now = NOW
    assert tracker.summary("day").total.cost_usd == Decimal("0.30")
    assert tracker.summary("week").total.cost_usd == Decimal("0.80")
    assert tracker.summary("month").total.cost_usd == Decimal("0.80")
    assert tracker.summary("all").total.cost_usd == Decimal("1.80")
    by_model = tracker.summary("all", "model").groups
    assert [(g.key, g.calls, g.cost_usd) for g in by_model] == [
        ("m-big", 2, Decimal("1.50")),
        ("m-small", 2, Decimal("0.30")),
    ]
    by_session = {g.key: g.cost_usd for g in tracker.summary("week", "session").groups}
    assert by_session == {"s1": Decimal("0.70"), "s2": Decimal("0.10")}
    by_task = {g.key: g.calls for g in tracker.summary("day", "task").groups}
    assert by_task == {"b": 2}
    data = tracker.summary("day", "model").to_dict()
    assert data["total"]["cost_usd"] == "0.300000" and data["start"] == "2026-03-11T00:00:00Z"
    with pytest.raises(RoutingError, match="unknown grouping"):
        tracker.summary("all", "colour")


def test_spent_by_scope(conn: sqlite3.Connection) -> None:
    clock = Clock(NOW - 3 * DAY)  # last week (Sunday)
    tracker = CostTracker(conn, clock=clock)
    record(tracker, "2.00", session="s1")
    clock.now = NOW
    record(tracker, "0.25", session="s2")
    assert tracker.spent("daily") == Decimal("0.25")
    assert tracker.spent("weekly") == Decimal("0.25")
    assert tracker.spent("monthly") == Decimal("2.25")
    assert tracker.spent("session", "s1") == Decimal("2.00")
    assert tracker.spent("session") == Decimal("0")


def test_budgets_set_replace_show_remove(conn: sqlite3.Connection) -> None:
    tracker = CostTracker(conn, clock=Clock(NOW))
    tracker.set_budget("session", Decimal("2"))
    tracker.set_budget("daily", Decimal("5.00"), hard=False)
    tracker.set_budget("daily", Decimal("4.5"))  # replaces
    assert [(b.scope, b.limit_usd, b.hard) for b in tracker.budgets()] == [
        ("daily", Decimal("4.500000"), True),
        ("session", Decimal("2.000000"), True),
    ]
    assert tracker.remove_budget("session") and not tracker.remove_budget("session")
    for bad in ("0", "-1", "NaN"):
        with pytest.raises(RoutingError, match="positive"):
            tracker.set_budget("daily", Decimal(bad))
    with pytest.raises(RoutingError, match="unknown budget scope"):
        tracker.set_budget("hourly", Decimal(1))


def test_hard_budget_refuses_a_call_that_would_exceed_it(conn: sqlite3.Connection) -> None:
    tracker = CostTracker(conn, clock=Clock(NOW))
    tracker.set_budget("daily", Decimal("1.00"))
    record(tracker, "0.70")
    check = tracker.check_budget(Decimal("0.30"), "s1")  # exactly at the limit is allowed
    assert not check.exceeded and check.remaining_usd == Decimal("0.30")
    with pytest.raises(
        BudgetExceededError, match=r"daily hard budget \$1.000000: spent \$0.700000"
    ):
        tracker.check_budget(Decimal("0.31"), "s1")


def test_soft_budget_warns_and_lets_the_call_go(conn: sqlite3.Connection) -> None:
    tracker = CostTracker(conn, clock=Clock(NOW))
    tracker.set_budget("session", Decimal("0.50"), hard=False)
    tracker.set_budget("monthly", Decimal("100"))
    record(tracker, "0.45", session="s1")
    check = tracker.check_budget(Decimal("0.10"), "s1")
    assert check.exceeded and [w.scope for w in check.warnings] == ["session"]
    warning = check.warnings[0].to_dict()
    assert warning["exceeded"] is True and warning["estimated_usd"] == "0.100000"
    assert warning["spent_usd"] == "0.450000" and warning["hard"] is False
    assert check.remaining_usd == Decimal("99.55")
    assert not tracker.check_budget(Decimal("0.10"), "s-other").exceeded  # per session
    assert not tracker.check_budget(Decimal("0.10"), None).exceeded  # no session: not applied


def test_session_budget_applies_per_session(conn: sqlite3.Connection) -> None:
    tracker = CostTracker(conn, clock=Clock(NOW))
    tracker.set_budget("session", Decimal("1"))
    record(tracker, "0.90", session="s1")
    with pytest.raises(BudgetExceededError):
        tracker.check_budget(Decimal("0.20"), "s1")
    assert tracker.check_budget(Decimal("0.20"), "s2").remaining_usd == Decimal("1")
