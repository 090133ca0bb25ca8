"""`br routing ...`: estimate task complexity, pick models, track costs and budgets."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail

MAX_USD = Decimal(1_000_000)  # stored as integer micro-dollars: far inside SQLite's range

app = typer.Typer(
    help="Estimate task complexity, pick models, track costs and budgets.", no_args_is_help=True
)
budget_app = typer.Typer(help="Set, show and remove spending budgets.", no_args_is_help=True)
app.add_typer(budget_app, name="budget")

ESTIMATOR_OPTION = typer.Option(
    None, "--estimator", help="auto | heuristic | learned (default: [routing] estimator)."
)


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

    name = _estimator_name(estimator)
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

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, files = item["text"], item.get("files") or []
            if not isinstance(text, str) or not isinstance(files, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            fail(f"{path}:{number}: expected a JSON object with a string 'text' (and a list 'files')")
        result = estimate_complexity(text, [str(f) for f in files], estimator)
        out.append(json.dumps({"id": item.get("id"), "level": result.level, "score": result.score}))
    sys.stdout.write("".join(line + "\n" for line in out))


@app.command("select")
def select_command(
    task: str = typer.Argument(..., help="The task description."),
    cost_limit: str | None = typer.Option(
        None, "--cost-limit", help="Most the task may cost (USD)."
    ),
    model: str = typer.Option(
        "auto", "--model", "-m", help="auto, an alias (haiku|sonnet|opus) or an id."
    ),
    files: list[str] = typer.Option([], "--file", "-f", help="A file the task will touch."),
    estimator: str | None = ESTIMATOR_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Choose the model for a task and show the level, estimated cost and why.

    \b
    Examples:
      br routing select 'Fix the typo in README' --json
      br routing select 'Add OAuth login' --cost-limit 0.50
    """
    from buildrunner.routing.selector import select_model

    limit = _usd_option("--cost-limit", cost_limit) if cost_limit is not None else None
    settings, root = _settings()
    if estimator is not None:
        settings = settings.model_copy(update={"estimator": _estimator_name(estimator)})
    selection = select_model(
        task, files=files, model=model, cost_limit_usd=limit, settings=settings, root=root
    )
    data = selection.to_dict()
    if json_output:
        emit_json(data)
        return
    err_console.print(
        f"[bold]{data['model']}[/bold] for a {data['level']} task (score {data['score']})"
    )
    err_console.print(
        f"  estimated ${data['estimated_cost_usd']} for ~{data['estimated_input_tokens']} input"
        f" + ~{data['estimated_output_tokens']} output tokens"
    )
    err_console.print(f"  why: {data['reason']}")
    err_console.print(f"  fallbacks: {', '.join(data['fallbacks']) or 'none'}")


@app.command("models")
def models_command(
    show_legacy: bool = typer.Option(True, "--legacy/--no-legacy", help="Include legacy models."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List the model catalog with prices (USD per million tokens).

    \b
    Examples:
      br routing models
      br routing models --json
    """
    from buildrunner.routing.catalog import load_catalog

    settings, root = _settings()
    catalog = load_catalog(settings, root=root)
    models = [m for m in catalog if show_legacy or not m.legacy]
    if json_output:
        emit_json({"source": catalog.source, "models": [m.to_dict() for m in models]})
        return
    from rich.table import Table

    table = Table(title=f"models ({catalog.source} catalog, USD per million tokens)")
    for column in ("id", "alias", "tier", "in", "out", "cache w", "cache r", "context"):
        table.add_column(column)
    for m in models:
        table.add_row(
            m.id + (" (legacy)" if m.legacy else ""), m.aliases[0] if m.aliases else "", m.tier,
            str(m.input_per_mtok), str(m.output_per_mtok), str(m.cache_write_per_mtok),
            str(m.cache_read_per_mtok), f"{m.context_window:,}",
        )  # fmt: skip
    err_console.print(table)


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
    summary = CostTracker(_db(write=False)).summary(period, by)
    data = summary.to_dict()
    if json_output:
        emit_json(data)
        return
    total = data["total"]
    err_console.print(
        f"[bold]${total['cost_usd']}[/bold] over {total['calls']} calls ({period}; "
        f"{total['input_tokens']} in / {total['output_tokens']} out tokens)"
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
    limit = _usd_option("USD", usd, positive=True)
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


def _usd_option(name: str, raw: str, positive: bool = False) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        fail(f"{name} must be an amount in USD (got '{raw}')")
    if not value.is_finite() or value < 0 or (positive and value == 0) or value > MAX_USD:
        fail(
            f"{name} must be a {'positive' if positive else 'non-negative'} amount in USD "
            f"of at most {MAX_USD:,} (got '{raw}')"
        )
    return value


def _estimator_name(name: str | None) -> str:
    from buildrunner.routing.complexity import ESTIMATOR_NAMES

    if name is None:
        settings, _ = _settings()
        return settings.estimator
    if name not in ESTIMATOR_NAMES:
        fail(f"--estimator must be one of {', '.join(ESTIMATOR_NAMES)} (got '{name}')")
    return name


def _settings() -> tuple[Any, Path]:
    from buildrunner.cli.common import project_settings, project_store

    store = project_store()
    return project_settings(store).routing, store.root


def _db(*, write: bool = True) -> Any:
    from buildrunner.cli.common import open_db

    return open_db(write=write)
