"""`br routing ...`: estimate task complexity, pick models, track costs and budgets.

`select` and `stats` (the routing decision and the outcomes behind it) live in `routing_ladder.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from buildrunner.cli import routing_ladder
from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail
from buildrunner.cli.routing_options import (
    ESTIMATOR_OPTION,
    estimator_name,
    routing_settings,
    usd_option,
)
from buildrunner.display import printable

app = typer.Typer(
    help="Estimate task complexity, pick models, track costs and budgets.", no_args_is_help=True
)
budget_app = typer.Typer(help="Set, show and remove spending budgets.", no_args_is_help=True)
app.add_typer(budget_app, name="budget")


@app.command("estimate")
def estimate_command(
    task: str | None = typer.Argument(None, help="The task description."),
    from_file: Path | None = typer.Option(
        None, "--from-file", help='JSONL file of {"id", "text"} lines; prints one JSON line each.'
    ),
    files: list[str] = typer.Option([], "--file", "-f", help="A file the task will touch."),
    estimator: str | None = ESTIMATOR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Estimate a task's complexity: level, score and the signals behind it.

    \b
    Examples:
      br routing estimate 'Add password reset with tests'
      br routing estimate --from-file tasks.jsonl --json
    """
    from buildrunner.routing.complexity import estimate_complexity

    name = estimator_name(estimator)
    if from_file is not None:
        if task is not None:
            fail("give either TASK or --from-file, not both")
        _estimate_batch(from_file, name)
        return
    if task is None or not task.strip():
        fail("give a task description (or --from-file TASKS.jsonl)")
    result = estimate_complexity(task, files, name)
    if json_output:
        emit_json(result.to_dict())
        return
    err_console.print(f"[bold]{result.level}[/bold] (score {result.score}, {result.estimator})")
    for key, value in result.signals.items():
        err_console.print(f"  {key}: {json.dumps(value)}")


def _estimate_batch(path: Path, estimator: str) -> None:
    from buildrunner.routing.complexity import estimate_complexity

    out = []
    for _number, item in routing_ladder.read_task_lines(path):
        result = estimate_complexity(item["text"], item.get("files", []), estimator)
        out.append(json.dumps({"id": item.get("id"), "level": result.level, "score": result.score}))
    sys.stdout.write("".join(line + "\n" for line in out))


app.command("select")(routing_ladder.select_command)
app.command("stats")(routing_ladder.stats_command)


@app.command("models")
def models_command(
    show_legacy: bool = typer.Option(True, "--legacy/--no-legacy", help="Include legacy models."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List the model catalog: prices (USD per million tokens) and lifecycle dates.

    \b
    Examples:
      br routing models
      br routing models --json
    """
    from datetime import date

    from buildrunner.routing.catalog import load_catalog

    settings, root = routing_settings()
    catalog = load_catalog(settings, root=root)
    models = [m for m in catalog if show_legacy or not m.legacy]
    today = date.today()
    if json_output:
        emit_json({"source": catalog.source, "today": today.isoformat(), "models": [
            {**m.to_dict(), "status": m.lifecycle(today)} for m in models
        ]})  # fmt: skip
        return
    rows = [
        {"id": printable(m.id), "alias": printable(m.aliases[0]) if m.aliases else "",
         "tier": m.tier, "status": "legacy" if m.legacy else m.lifecycle(today),
         "in": str(m.input_per_mtok), "out": str(m.output_per_mtok),
         "cache w": str(m.cache_write_per_mtok), "cache r": str(m.cache_read_per_mtok),
         "context": f"{m.context_window:,}", "deprecated": str(m.deprecated_on or "-"),
         "retires": str(m.retires_on or "-")}
        for m in models
    ]  # fmt: skip
    title = f"models ({printable(catalog.source)} catalog, USD per million tokens)"
    err_console.print(_fitted_table(title, rows, MODEL_COLUMNS_DROPPED_FIRST))


# On a narrow terminal these columns go first, in this order; ids and statuses are never cut.
MODEL_COLUMNS_DROPPED_FIRST = ("cache w", "cache r", "context", "alias", "deprecated", "tier")


def _fitted_table(title: str, rows: list[dict[str, str]], droppable: tuple[str, ...]) -> Any:
    """A Rich table of `rows` without the least important columns the terminal has no room for."""
    from rich.table import Table

    columns = list(rows[0]) if rows else []

    def width(names: list[str]) -> int:  # cell padding and borders: 3 per column, 1 at the end
        return sum(max(len(c), *(len(r[c]) for r in rows)) + 3 for c in names) + 1

    for name in droppable:
        if width(columns) <= err_console.width:
            break
        columns.remove(name)
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="fold" if column != "id" else "ignore")
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return table


@app.command("costs")
def costs_command(
    period: str = typer.Option("all", "--period", "-p", help="day | week | month | all (UTC)."),
    by: str | None = typer.Option(None, "--by", help="Group by model | session | task."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Spending from the cost log, for a period, optionally grouped.

    \b
    Examples:
      br routing costs --period week
      br routing costs --by model --json
    """
    from buildrunner.routing.costs import GROUPINGS, PERIODS, CostTracker

    if period not in PERIODS:
        fail(f"--period must be one of {', '.join(PERIODS)} (got '{period}')")
    if by is not None and by not in GROUPINGS:
        fail(f"--by must be one of {', '.join(GROUPINGS)} (got '{by}')")
    conn = _db(write=False)
    summary = CostTracker(conn).summary(period, by)
    data = summary.to_dict()
    data["saved"] = _cache_savings(conn, period)
    if json_output:
        emit_json(data)
        return
    total = data["total"]
    saved = data["saved"]
    err_console.print(
        f"[bold]${total['cost_usd']}[/bold] over {total['calls']} calls ({period}; "
        f"{total['input_tokens']} in / {total['output_tokens']} out tokens)"
        + (
            f"; the task cache saved ${saved['saved_usd']} in {saved['hits']} hits"
            if saved["hits"]
            else ""
        )
    )
    if summary.groups:
        from rich.table import Table

        table = Table()
        for column in (by or "", "calls", "cost (USD)", "input", "output"):
            table.add_column(column)
        for g in data["groups"]:
            table.add_row(str(g["key"]), str(g["calls"]), g["cost_usd"],
                          str(g["input_tokens"]), str(g["output_tokens"]))  # fmt: skip
        err_console.print(table)


@budget_app.command("set")
def budget_set_command(
    scope: str = typer.Argument(..., help="daily | weekly | monthly | session"),
    usd: str = typer.Argument(..., help="The limit in USD."),
    soft: bool = typer.Option(
        False, "--soft", help="Warn (budget_exceeded) instead of refusing calls."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Set (or replace) the budget of a scope; hard unless --soft.

    \b
    Examples:
      br routing budget set daily 5.00
      br routing budget set session 1.50 --soft
    """
    from buildrunner.routing.costs import BUDGET_SCOPES, CostTracker

    if scope not in BUDGET_SCOPES:
        fail(f"SCOPE must be one of {', '.join(BUDGET_SCOPES)} (got '{scope}')")
    limit = usd_option("USD", usd, positive=True)
    budget = CostTracker(_db()).set_budget(scope, limit, hard=not soft)
    data = {"scope": budget.scope, "limit_usd": str(budget.limit_usd), "hard": budget.hard}
    if json_output:
        emit_json(data)
    else:
        err_console.print(
            f"{scope} budget: ${budget.limit_usd} ({'hard' if budget.hard else 'soft'})"
        )


@budget_app.command("remove")
def budget_remove_command(
    scope: str = typer.Argument(..., help="daily | weekly | monthly | session"),
) -> None:
    """Remove the budget of a scope.

    \b
    Examples:
      br routing budget remove daily
    """
    from buildrunner.routing.costs import BUDGET_SCOPES, CostTracker

    if scope not in BUDGET_SCOPES:
        fail(f"SCOPE must be one of {', '.join(BUDGET_SCOPES)} (got '{scope}')")
    removed = CostTracker(_db()).remove_budget(scope)
    err_console.print(f"{scope} budget {'removed' if removed else 'was not set'}")


@budget_app.command("show")
def budget_show_command(
    session: str | None = typer.Option(None, "--session", help="Show spending of this session."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show each budget with what its scope has spent and what remains.

    \b
    Examples:
      br routing budget show
      br routing budget show --json
    """
    from buildrunner.routing.costs import CostTracker

    tracker = CostTracker(_db(write=False))
    statuses = {s.scope: s for s in tracker.budget_status(session)}
    rows: list[dict[str, Any]] = []
    for budget in tracker.budgets():
        status = statuses.get(budget.scope)
        row = status.to_dict() if status is not None else {
            "scope": budget.scope, "limit_usd": str(budget.limit_usd), "hard": budget.hard,
            "spent_usd": None, "remaining_usd": None, "exceeded": False,
        }  # fmt: skip
        rows.append(row)
    if json_output:
        emit_json({"budgets": rows})
        return
    if not rows:
        err_console.print("no budgets set (br routing budget set daily 5.00)")
        return
    for row in rows:
        spent = "per session" if row["spent_usd"] is None else f"spent ${row['spent_usd']}"
        err_console.print(
            f"{row['scope']}: ${row['limit_usd']} ({'hard' if row['hard'] else 'soft'}), {spent}"
            + (", [red]exceeded[/red]" if row["exceeded"] else "")
        )


def _cache_savings(conn: Any, period: str) -> dict[str, Any]:
    """What task-cache hits saved in the period (their runs' original cost)."""
    import time

    from buildrunner.routing.costs import period_start
    from buildrunner.telemetry.queries import cache_savings

    now = time.time()
    return cache_savings(conn, period_start(period, now), now + 1e-6)


def _db(*, write: bool = True) -> Any:
    from buildrunner.cli.common import open_db

    return open_db(write=write)
