"""`br routing select` (one task, or a JSONL batch) and `br routing stats`: the routing decision and
the outcomes that inform it. Registered on the `br routing` group by `cli/routing.py`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail
from buildrunner.cli.routing_options import (
    ESTIMATOR_OPTION,
    estimator_name,
    routing_settings,
    usd_option,
)
from buildrunner.display import printable

MAX_TASK_FILE_BYTES = 64 * 1024 * 1024


def read_task_lines(path: Path, *, extra: tuple[str, ...] = ()) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a tasks JSONL file; a bad line stops with
    a one-line error naming it. Objects need a string `text`, may have a list `files` and an `id`;
    `extra` names further keys to keep (checked by the caller)."""
    try:
        if path.stat().st_size > MAX_TASK_FILE_BYTES:
            fail(f"{path}: larger than {MAX_TASK_FILE_BYTES // (1024 * 1024)} MiB")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text")
    tasks = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text_value, files = item["text"], item.get("files") or []
            if not isinstance(text_value, str) or not isinstance(files, list):
                raise TypeError
            if not all(isinstance(f, str) for f in files):
                raise TypeError
            if isinstance(item.get("id"), dict | list):
                raise TypeError
        except (ValueError, KeyError, TypeError, RecursionError):
            fail(
                f"{path}:{number}: expected a JSON object with a string 'text' (and a list 'files')"
            )
        tasks.append((number, {k: item[k] for k in ("id", "text", "files", *extra) if k in item}))
    return tasks


def select_command(
    task: str | None = typer.Argument(None, help="The task description."),
    from_file: Path | None = typer.Option(
        None,
        "--from-file",
        help='JSONL of {"id", "text", "files"?, "checks"?} lines; prints one JSON line each.',
    ),
    checks: bool = typer.Option(
        False, "--checks", help="The task has acceptance checks: show the ladder it would climb."
    ),
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
    """Choose the model (or, with checks, the ladder of models) for a task, and say why.

    \b
    Examples:
      br routing select 'Fix the typo in README' --json
      br routing select 'Add OAuth login' --checks --cost-limit 0.50
      br routing select --from-file tasks.jsonl --json
    """
    limit = usd_option("--cost-limit", cost_limit) if cost_limit is not None else None
    settings, root = routing_settings()
    if estimator is not None:
        settings = settings.model_copy(update={"estimator": estimator_name(estimator)})
    stats = project_outcomes()
    if from_file is not None:
        if task is not None:
            fail("give either TASK or --from-file, not both")
        _select_batch(from_file, settings, root, stats, limit, model=model, checks=checks)
        return
    if task is None or not task.strip():
        fail("give a task description (or --from-file TASKS.jsonl)")
    from buildrunner.routing.ladder import select_ladder

    choice = select_ladder(
        task, files=files, model=model, has_checks=checks, cost_limit_usd=limit,
        settings=settings, root=root, stats=stats,
    )  # fmt: skip
    for warning in choice.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    data = choice.to_dict()
    if json_output:
        emit_json(data)
        return
    err_console.print(
        f"[bold]{data['model']}[/bold] for a {data['level']} task (score {data['score']})"
    )
    if checks:
        rungs = [f"{r['model']} (${r['estimated_cost_usd']})" for r in data["rungs"]]
        err_console.print(f"  ladder: {' -> '.join(rungs)}")
    err_console.print(
        f"  estimated ${data['estimated_cost_usd']} for ~{data['estimated_input_tokens']} input"
        f" + ~{data['estimated_output_tokens']} output tokens"
        + (" (first rung)" if len(data["rungs"]) > 1 else "")
    )
    err_console.print(f"  why: {data['reason']}")
    fallbacks = [
        f"{r['model']} -> {', '.join(r['fallbacks'])}" for r in data["rungs"] if r["fallbacks"]
    ]
    err_console.print(f"  fallbacks: {'; '.join(fallbacks) or 'none'}")


def _select_batch(
    path: Path, settings: Any, root: Path, stats: Any, limit: Any, *, model: str, checks: bool
) -> None:
    """One JSON line per task; `--model`, `--cost-limit` and `--checks` apply to every line (a
    line's own `checks` also counts)."""
    from buildrunner.errors import RoutingError
    from buildrunner.routing.catalog import load_catalog
    from buildrunner.routing.ladder import select_ladder

    tasks = read_task_lines(path, extra=("checks",))
    for number, item in tasks:
        if not _valid_checks(item.get("checks")):
            fail(f"{path}:{number}: 'checks' must be a command, a list of commands or a boolean")
    catalog = load_catalog(settings, root=root)
    lines, shown, failed = [], set(), False
    for _number, item in tasks:
        try:
            choice = select_ladder(
                item["text"], files=item.get("files", []), model=model,
                has_checks=checks or bool(item.get("checks")), cost_limit_usd=limit,
                catalog=catalog, settings=settings, root=root, stats=stats,
            )  # fmt: skip
        except RoutingError as exc:
            failed = True
            lines.append({"id": item.get("id"), "error": str(exc)})
            continue
        for warning in choice.warnings:
            if warning not in shown:
                shown.add(warning)
                err_console.print(f"[yellow]warning:[/yellow] {warning}")
        line: dict[str, Any] = {"id": item.get("id"), "model": choice.rungs[0].model,
                                "ladder": choice.models, "level": choice.level}  # fmt: skip
        if choice.p is not None:
            line["p"] = dict(choice.p)
        lines.append(line)
    sys.stdout.write("".join(json.dumps(line) + "\n" for line in lines))
    if failed:
        raise typer.Exit(1)


def _valid_checks(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def stats_command(
    days: float | None = typer.Option(
        None, "--days", min=0, help="Only outcomes of the last DAYS days (default: all)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """How verified agent tasks went, per complexity level and model: first-try acceptance,
    mean fix rounds and cost per accepted task (what routing learns from).

    \b
    Examples:
      br routing stats
      br routing stats --days 30 --json
    """
    since = None if days is None else time.time() - days * 86400
    stats = project_outcomes(since=since)
    rows = [] if stats is None else stats.by_level_model()
    if json_output:
        emit_json({"since": since, "rows": [row.to_dict() for row in rows]})
        return
    if not rows:
        err_console.print("no judged agent rungs recorded yet (tasks with `check:` record them)")
        return
    from rich.table import Table

    table = Table(title="routing outcomes (verified agent tasks)")
    for column in ("level", "model", "rungs", "accepted", "first try", "rounds", "$/accepted"):
        table.add_column(column, no_wrap=column in ("level", "model"))
    for row in rows:
        per = row.cost_per_accepted_usd
        table.add_row(
            row.level, printable(row.model), f"{row.attempts} ({row.started} first)",
            f"{row.accepted} ({row.acceptance_rate:.0%})", f"{row.first_try_rate:.0%}",
            f"{row.mean_rounds:.2f}", "-" if per is None else f"${per}",
        )  # fmt: skip
    err_console.print(table)


def project_outcomes(since: float | None = None) -> Any:
    """This project's recorded rung outcomes, or None when it has no database yet."""
    from buildrunner.cli.common import open_db, project_store

    store = project_store()
    if not store.db_path.exists():
        return None
    from buildrunner.routing.history import outcome_stats

    conn = open_db(store)
    try:
        return outcome_stats(conn, since=since)
    finally:
        conn.close()
