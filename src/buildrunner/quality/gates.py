"""The quality gates. Each returns a GateResult: pass, fail or skip (not configured), with why."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from buildrunner.config import Settings
from buildrunner.quality.coverage import CoverageReportError, read_total_coverage

Outcome = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class GateResult:
    gate: str
    outcome: Outcome
    reason: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateContext:
    conn: sqlite3.Connection
    root: Path  # the project directory the gates look at
    settings: Settings
    session_id: str | None  # the build the gates judge (latest when None)
    scan: Callable[[Path, Settings], tuple[int, int]] | None  # -> (new findings, baselined)


def security_gate(ctx: GateContext) -> GateResult:
    if ctx.scan is None:
        return GateResult("security", "skip", "the security scanner is not available")
    new, baselined = ctx.scan(ctx.root, ctx.settings)
    if new:
        return GateResult(
            "security", "fail", f"{new} new security finding(s); run 'br security scan'", new
        )
    extra = f" ({baselined} accepted in the baseline)" if baselined else ""
    return GateResult("security", "pass", f"no new findings{extra}", 0)


def tests_gate(ctx: GateContext) -> GateResult:
    if ctx.session_id is None:
        return GateResult("tests", "skip", "no build has run yet")
    test_ids = _test_tasks(ctx)
    if not test_ids:
        return GateResult(
            "tests", "skip", "the plan declares no test task (set 'test: true' on one)"
        )
    rows = ctx.conn.execute(
        f"SELECT task_id, status FROM tasks WHERE session_id = ? AND task_id IN "
        f"({','.join('?' * len(test_ids))})",
        (ctx.session_id, *test_ids),
    ).fetchall()
    missing = sorted(set(test_ids) - {row["task_id"] for row in rows})
    if missing:
        return GateResult("tests", "fail", f"test task not in this build: {', '.join(missing)}")
    failing = [f"{row['task_id']} {row['status']}" for row in rows if row["status"] != "succeeded"]
    if failing:
        return GateResult("tests", "fail", f"test task not passed: {', '.join(failing)}")
    return GateResult("tests", "pass", f"test task {', '.join(test_ids)} passed")


def _test_tasks(ctx: GateContext) -> list[str]:
    if ctx.settings.quality.test_task:
        return [ctx.settings.quality.test_task]
    ids = []
    for row in ctx.conn.execute(
        "SELECT task_id, spec_json FROM tasks WHERE session_id = ? ORDER BY position",
        (ctx.session_id,),
    ):
        if json.loads(row["spec_json"]).get("test"):
            ids.append(row["task_id"])
    return ids


def coverage_gate(ctx: GateContext) -> GateResult:
    minimum = ctx.settings.quality.min_coverage
    if minimum is None:
        return GateResult("coverage", "skip", "no minimum set ([quality] min_coverage)")
    path = ctx.root / ctx.settings.quality.coverage_file
    try:
        total = read_total_coverage(path)
    except CoverageReportError as exc:
        return GateResult("coverage", "fail", str(exc))
    outcome: Outcome = "pass" if total >= minimum else "fail"
    return GateResult(
        "coverage", outcome, f"{total:.1f}% covered (minimum {minimum:g}%)", round(total, 2)
    )


def budget_gate(ctx: GateContext) -> GateResult:
    from buildrunner.routing.costs import CostTracker

    tracker = CostTracker(ctx.conn)
    statuses = tracker.budget_status(ctx.session_id)
    over = [
        f"{status.scope} ${status.spent_usd:.2f} > ${status.limit_usd:.2f}"
        for status in statuses
        if status.spent_usd > status.limit_usd
    ]
    session_budget = None
    if ctx.session_id is not None:
        row = ctx.conn.execute(
            "SELECT budget_usd FROM sessions WHERE id = ?", (ctx.session_id,)
        ).fetchone()
        if row and row["budget_usd"]:
            session_budget = Decimal(row["budget_usd"])
            spent = tracker.spent("session", ctx.session_id)
            if spent > session_budget:
                over.append(f"session ${spent:.2f} > ${session_budget:.2f} (the plan's budget)")
    if not statuses and session_budget is None:
        return GateResult("budget", "skip", "no budget set")
    if over:
        return GateResult("budget", "fail", "budget exceeded: " + "; ".join(over))
    return GateResult("budget", "pass", "within every budget")


def alerts_gate(ctx: GateContext) -> GateResult:
    rows = ctx.conn.execute(
        "SELECT threshold, message FROM alerts WHERE status = 'firing' AND level = 'critical'"
    ).fetchall()
    if rows:
        names = ", ".join(row["threshold"] for row in rows)
        return GateResult(
            "alerts", "fail", f"{len(rows)} critical alert(s) open: {names}", len(rows)
        )
    return GateResult("alerts", "pass", "no open critical alert", 0)


GATES: tuple[Callable[[GateContext], GateResult], ...] = (
    security_gate,
    tests_gate,
    coverage_gate,
    budget_gate,
    alerts_gate,
)


def run_gates(ctx: GateContext) -> list[GateResult]:
    """Every gate's result, in a fixed order."""
    return [gate(ctx) for gate in GATES]


def latest_session_id(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT id FROM sessions ORDER BY created_at DESC LIMIT 1").fetchone()
    return row["id"] if row else None
