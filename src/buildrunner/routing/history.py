"""The project's own evidence: how each rung of a verified agent task ended, counted per complexity
level and model.

The build loop calls `record_rung` once per rung whose work the task's checks judged (accepted or
rejected), inside its open transaction. A task without checks records nothing: nobody verified
whether its model was adequate. `outcome_stats` counts the rows for the selector (which updates
its dev-data prior with them, `routing/policy.py`) and for `br routing stats`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from buildrunner.errors import RoutingError
from buildrunner.routing.costs import MICRO, from_micro, to_micro
from buildrunner.routing.estimator_base import LEVELS


def record_rung(
    conn: sqlite3.Connection, *, session_id: str, task_id: str, level: str, model: str, rung: int,
    fix_rounds: int, accepted: bool, first_try: bool, cost_usd: Decimal, ts: float | None = None,
) -> None:  # fmt: skip
    """Store one judged rung (rung 0 is the ladder's first). A rerun of the same rung of the same
    task in the same session replaces the earlier row. Runs in the caller's transaction."""
    if level not in LEVELS:
        raise RoutingError(f"unknown complexity level '{level}' (one of {', '.join(LEVELS)})")
    if rung < 0 or fix_rounds < 0:
        raise RoutingError(f"rung and fix_rounds must be >= 0 (got {rung}, {fix_rounds})")
    if cost_usd < 0:
        raise RoutingError(f"a rung's cost cannot be negative (got {cost_usd})")
    if first_try and not (accepted and fix_rounds == 0):
        raise RoutingError("first_try means accepted with no fix round")
    conn.execute(
        "INSERT OR REPLACE INTO routing_outcomes (ts, session_id, task_id, level, model, rung,"
        " fix_rounds, accepted, first_try, cost_micro_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (time.time() if ts is None else ts, session_id, task_id, level, model, rung, fix_rounds,
         int(accepted), int(first_try), to_micro(cost_usd)),
    )  # fmt: skip


@dataclass(frozen=True)
class OutcomeCell:
    """Counts of the rungs of one level and model, split by whether the rung was the first."""

    level: str
    model: str
    escalated: bool  # rung > 0: earlier rungs of the same task were rejected
    attempts: int
    accepted: int
    first_try: int
    fix_rounds: int  # summed over the attempts
    cost_usd: Decimal


@dataclass(frozen=True)
class ModelStats:
    """One line of `br routing stats`: a level and a model, first and escalated rungs together."""

    level: str
    model: str
    attempts: int
    started: int  # of which first rungs
    accepted: int
    first_try: int
    fix_rounds: int
    cost_usd: Decimal

    @property
    def first_try_rate(self) -> float:
        return self.first_try / self.attempts if self.attempts else 0.0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.attempts if self.attempts else 0.0

    @property
    def mean_rounds(self) -> float:
        return self.fix_rounds / self.attempts if self.attempts else 0.0

    @property
    def cost_per_accepted_usd(self) -> Decimal | None:
        """Money spent on this model at this level per task it got accepted (None: none was)."""
        return (self.cost_usd / self.accepted).quantize(MICRO) if self.accepted else None

    def to_dict(self) -> dict[str, Any]:
        per_accepted = self.cost_per_accepted_usd
        return {
            "level": self.level, "model": self.model, "attempts": self.attempts,
            "started": self.started, "escalated": self.attempts - self.started,
            "accepted": self.accepted, "first_try": self.first_try,
            "first_try_rate": round(self.first_try_rate, 4),
            "acceptance_rate": round(self.acceptance_rate, 4),
            "mean_fix_rounds": round(self.mean_rounds, 3), "cost_usd": str(self.cost_usd),
            "cost_per_accepted_usd": None if per_accepted is None else str(per_accepted),
        }  # fmt: skip


@dataclass(frozen=True)
class OutcomeStats:
    """All recorded rung outcomes, counted per (level, model, first or escalated rung)."""

    cells: tuple[OutcomeCell, ...] = ()
    since: float | None = None

    def counts(self, levels: Iterable[str], model: str, *, escalated: bool) -> tuple[int, int]:
        """(attempts, accepted) of `model` at any of `levels`, first rungs or escalated ones."""
        wanted = set(levels)
        attempts = accepted = 0
        for cell in self.cells:
            if cell.model == model and cell.escalated == escalated and cell.level in wanted:
                attempts += cell.attempts
                accepted += cell.accepted
        return attempts, accepted

    def by_level_model(self) -> list[ModelStats]:
        """One entry per level and model, in level order then most attempts first."""
        merged: dict[tuple[str, str], list[OutcomeCell]] = {}
        for cell in self.cells:
            merged.setdefault((cell.level, cell.model), []).append(cell)
        rows = [
            ModelStats(
                level=level, model=model, attempts=sum(c.attempts for c in cells),
                started=sum(c.attempts for c in cells if not c.escalated),
                accepted=sum(c.accepted for c in cells), first_try=sum(c.first_try for c in cells),
                fix_rounds=sum(c.fix_rounds for c in cells),
                cost_usd=sum((c.cost_usd for c in cells), Decimal("0.000000")),
            )
            for (level, model), cells in merged.items()
        ]  # fmt: skip
        order = {level: i for i, level in enumerate(LEVELS)}
        rows.sort(key=lambda r: (order.get(r.level, len(order)), -r.attempts, r.model))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "rows": [row.to_dict() for row in self.by_level_model()]}


def outcome_stats(conn: sqlite3.Connection, *, since: float | None = None) -> OutcomeStats:
    """Count the recorded rungs (all of them, or those at or after `since`, epoch seconds)."""
    query = (
        "SELECT level, model, rung > 0 AS escalated, COUNT(*) AS attempts,"
        " SUM(accepted) AS accepted, SUM(first_try) AS first_try, SUM(fix_rounds) AS fix_rounds,"
        " SUM(cost_micro_usd) AS cost FROM routing_outcomes"
        + (" WHERE ts >= ?" if since is not None else "")
        + " GROUP BY level, model, rung > 0 ORDER BY level, model, escalated"
    )
    rows = conn.execute(query, () if since is None else (since,)).fetchall()
    cells = tuple(
        OutcomeCell(
            level=row[0], model=row[1], escalated=bool(row[2]), attempts=int(row[3]),
            accepted=int(row[4] or 0), first_try=int(row[5] or 0), fix_rounds=int(row[6] or 0),
            cost_usd=from_micro(row[7]),
        )
        for row in rows
    )  # fmt: skip
    return OutcomeStats(cells, since)
