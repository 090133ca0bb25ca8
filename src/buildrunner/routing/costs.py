"""Cost tracking and budgets over the store's `costs` and `budgets` tables.

Money is stored as INTEGER micro-dollars and handled as Decimal USD (6 decimals) in Python.
Periods are calendar periods in UTC: a day starts at 00:00, a week on Monday, a month on the 1st.
Budgets: `daily`, `weekly`, `monthly` (spending in the current period) and `session` (spending of
one session). A hard budget refuses a call that would exceed it (BudgetExceededError); a soft one
only reports it, so the caller emits `budget_exceeded` and goes on.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from buildrunner.errors import HardBudgetExceededError, RoutingError
from buildrunner.store.db import iso_utc

MICRO = Decimal("0.000001")
PERIODS = ("day", "week", "month", "all")
GROUPINGS = ("model", "session", "task")
BUDGET_SCOPES = ("daily", "weekly", "monthly", "session")
_SCOPE_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month"}
_GROUP_COLUMN = {"model": "model", "session": "session_id", "task": "task_id"}


def to_micro(usd: Decimal | int | str) -> int:
    """USD to integer micro-dollars (half-up rounding)."""
    return int((Decimal(usd) * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_micro(micro: int | None) -> Decimal:
    """Integer micro-dollars to USD with 6 decimals."""
    return (Decimal(micro or 0) / 1_000_000).quantize(MICRO)


def period_start(period: str, now: float) -> float | None:
    """Epoch seconds where the calendar period containing `now` starts (UTC); None for 'all'."""
    if period not in PERIODS:
        raise RoutingError(f"unknown period '{period}' (choose from {', '.join(PERIODS)})")
    if period == "all":
        return None
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day.timestamp()


@dataclass(frozen=True)
class CostGroup:
    key: str | None
    calls: int
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "calls": self.calls, "cost_usd": str(self.cost_usd),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
        }  # fmt: skip


@dataclass(frozen=True)
class CostSummary:
    period: str
    by: str | None
    start: float | None
    end: float
    total: CostGroup
    groups: list[CostGroup] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        total = self.total.to_dict()
        total.pop("key")
        return {
            "period": self.period,
            "by": self.by,
            "start": iso_utc(self.start) if self.start is not None else None,
            "end": iso_utc(self.end),
            "total": total,
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class Budget:
    scope: str
    limit_usd: Decimal
    hard: bool
    updated_at: float


@dataclass(frozen=True)
class BudgetStatus:
    """One budget against what is spent in its scope (and, for a check, the call's estimate)."""

    scope: str
    limit_usd: Decimal
    hard: bool
    spent_usd: Decimal
    estimated_usd: Decimal = Decimal(0)

    @property
    def remaining_usd(self) -> Decimal:
        return self.limit_usd - self.spent_usd

    @property
    def exceeded(self) -> bool:
        return self.spent_usd + self.estimated_usd > self.limit_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope, "limit_usd": str(self.limit_usd), "hard": self.hard,
            "spent_usd": str(self.spent_usd), "remaining_usd": str(self.remaining_usd),
            "estimated_usd": str(self.estimated_usd),
            "exceeded": self.exceeded,  # spent + estimated > limit
        }  # fmt: skip

    def describe(self) -> str:
        kind = "hard" if self.hard else "soft"
        return (
            f"{self.scope} {kind} budget ${self.limit_usd}: spent ${self.spent_usd}"
            f" + estimated ${self.estimated_usd} exceeds it"
        )


@dataclass(frozen=True)
class BudgetCheck:
    """The result of checking a call against every budget that applies to it."""

    warnings: list[BudgetStatus]  # soft budgets the call would exceed
    remaining_usd: Decimal | None  # least room left under any hard budget (None: no hard budget)

    @property
    def exceeded(self) -> bool:
        return bool(self.warnings)


class CostTracker:
    """Records model calls and answers cost and budget questions from the store."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock

    # --- recording -------------------------------------------------------------------------

    def record(
        self,
        session_id: str | None,
        task_id: str | None,
        model_id: str,
        provider: str,
        input_tokens: int,
        output_tokens: int,
        cache_write_tokens: int,
        cache_read_tokens: int,
        cost_usd: Decimal,
        latency_ms: float | None,
        outcome: str = "success",
    ) -> None:
        """Store one model call (cost rounded to the micro-dollar)."""
        self.conn.execute(
            "INSERT INTO costs (ts, session_id, task_id, model, provider, input_tokens,"
            " output_tokens, cache_write_tokens, cache_read_tokens, cost_micro_usd, latency_ms,"
            " outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.clock(), session_id, task_id, model_id, provider, int(input_tokens),
                int(output_tokens), int(cache_write_tokens), int(cache_read_tokens),
                to_micro(cost_usd), latency_ms, outcome,
            ),
        )  # fmt: skip

    # --- reading ---------------------------------------------------------------------------

    def summary(
        self, period: str = "all", by: str | None = None, now: float | None = None
    ) -> CostSummary:
        """Totals for the period, optionally grouped by model, session or task (costliest first)."""
        if by is not None and by not in GROUPINGS:
            raise RoutingError(f"unknown grouping '{by}' (choose from {', '.join(GROUPINGS)})")
        end = self.clock() if now is None else now
        start = period_start(period, end)
        where, params = _window(start, end)
        sums = (
            "COUNT(*), COALESCE(SUM(cost_micro_usd), 0), COALESCE(SUM(input_tokens), 0),"
            " COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_write_tokens), 0),"
            " COALESCE(SUM(cache_read_tokens), 0)"
        )
        row = self.conn.execute(f"SELECT NULL, {sums} FROM costs WHERE {where}", params).fetchone()
        groups: list[CostGroup] = []
        if by is not None:
            column = _GROUP_COLUMN[by]
            rows = self.conn.execute(
                f"SELECT {column}, {sums} FROM costs WHERE {where} GROUP BY {column}"
                " ORDER BY 3 DESC, 1",
                params,
            ).fetchall()
            groups = [_group(r) for r in rows]
        return CostSummary(period, by, start, end, _group(row), groups)

    def spent(self, scope: str, session_id: str | None = None, now: float | None = None) -> Decimal:
        """USD spent in a budget scope: the current day/week/month, or one session."""
        if scope == "session":
            if session_id is None:
                return Decimal(0).quantize(MICRO)
            row = self.conn.execute(
                "SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs WHERE session_id = ?",
                (session_id,),
            ).fetchone()
            return from_micro(row[0])
        if scope not in _SCOPE_PERIOD:
            raise RoutingError(
                f"unknown budget scope '{scope}' (choose from {', '.join(BUDGET_SCOPES)})"
            )
        end = self.clock() if now is None else now
        where, params = _window(period_start(_SCOPE_PERIOD[scope], end), end)
        row = self.conn.execute(
            f"SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs WHERE {where}", params
        ).fetchone()
        return from_micro(row[0])

    # --- budgets ---------------------------------------------------------------------------

    def set_budget(self, scope: str, limit_usd: Decimal, hard: bool = True) -> Budget:
        """Create or replace the budget of a scope."""
        _check_scope(scope)
        limit = Decimal(limit_usd)
        if not limit.is_finite() or limit <= 0:
            raise RoutingError(f"a budget must be a positive amount of USD (got {limit_usd})")
        now = self.clock()
        self.conn.execute(
            "INSERT INTO budgets (scope, limit_micro_usd, hard, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(scope) DO UPDATE SET limit_micro_usd = excluded.limit_micro_usd,"
            " hard = excluded.hard, updated_at = excluded.updated_at",
            (scope, to_micro(limit), int(hard), now),
        )
        return Budget(scope, from_micro(to_micro(limit)), hard, now)

    def remove_budget(self, scope: str) -> bool:
        """Delete a scope's budget; True if there was one."""
        _check_scope(scope)
        return self.conn.execute("DELETE FROM budgets WHERE scope = ?", (scope,)).rowcount > 0

    def budgets(self) -> list[Budget]:
        """Every budget, in scope order (daily, weekly, monthly, session)."""
        rows = self.conn.execute(
            "SELECT scope, limit_micro_usd, hard, updated_at FROM budgets"
        ).fetchall()
        found = [Budget(r[0], from_micro(r[1]), bool(r[2]), r[3]) for r in rows]
        order = {s: i for i, s in enumerate(BUDGET_SCOPES)}
        return sorted(found, key=lambda b: order.get(b.scope, len(order)))

    def budget_status(
        self, session_id: str | None = None, now: float | None = None
    ) -> list[BudgetStatus]:
        """Each budget with what its scope has spent (a session budget needs `session_id`)."""
        return [
            BudgetStatus(b.scope, b.limit_usd, b.hard, self.spent(b.scope, session_id, now))
            for b in self.budgets()
            if b.scope != "session" or session_id is not None
        ]

    def check_budget(
        self, estimated_usd: Decimal, session_id: str | None = None, now: float | None = None
    ) -> BudgetCheck:
        """Before a call: raise for a hard budget it would exceed; report soft ones it would."""
        estimate = Decimal(estimated_usd).quantize(MICRO)
        warnings: list[BudgetStatus] = []
        remaining: Decimal | None = None
        for status in self.budget_status(session_id, now):
            status = BudgetStatus(
                status.scope, status.limit_usd, status.hard, status.spent_usd, estimate
            )
            if status.hard:
                if status.exceeded:
                    raise HardBudgetExceededError(status)
                left = status.remaining_usd
                remaining = left if remaining is None else min(remaining, left)
            elif status.exceeded:
                warnings.append(status)
        return BudgetCheck(warnings, remaining)


def _window(start: float | None, end: float) -> tuple[str, tuple[float, ...]]:
    if start is None:
        return "ts <= ?", (end,)
    return "ts >= ? AND ts <= ?", (start, end)


def _group(row: Any) -> CostGroup:
    return CostGroup(row[0], row[1], from_micro(row[2]), row[3], row[4], row[5], row[6])


def _check_scope(scope: str) -> None:
    if scope not in BUDGET_SCOPES:
        raise RoutingError(
            f"unknown budget scope '{scope}' (choose from {', '.join(BUDGET_SCOPES)})"
        )
