"""`br cache ...`: why a task misses the cache, what the cache holds, and pruning it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail

if TYPE_CHECKING:
    from buildrunner.build.cache import TaskCache
    from buildrunner.parallel.plan import Plan

app = typer.Typer(
    help="The task cache: why a task re-runs, what is cached, pruning.", no_args_is_help=True
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}


def parse_size(text: str) -> int:
    """Bytes from '500MB', '2G', '1.5GiB' or '1000' (k/M/G/T are powers of 1000, Ki/Mi/Gi of 1024)."""
    match = _SIZE.match(text)
    unit = match.group(2).lower().removesuffix("b") if match else None
    if match is None or unit not in _UNITS:
        fail(f"--max-size must be a size like 500MB, 2G or 1GiB, not '{text}'")
    return int(float(match.group(1)) * _UNITS[unit])


def _open_cache() -> TaskCache:
    from buildrunner.build.cache import open_task_cache
    from buildrunner.cli.common import project_settings, project_store

    store = project_store()
    settings = project_settings(store)
    conn = store.connect(busy_timeout_s=settings.store.busy_timeout_s)
    return open_task_cache(conn, store.root, settings.cache)


@app.command("why")
def why_command(
    task_id: str = typer.Argument(..., help="The task's id."),
    plan_file: Path | None = typer.Option(
        None, "--plan", help="The plan file (default: the plan of the newest run with that task)."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Folder the tasks run in (default: the plan's workdir, else here)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """What changed since the task's last cached run: inputs, env, dependencies, prompt lines.

    \b
    Examples:
      br cache why tests
      br cache why tests --plan plan.yaml --json
    """
    from buildrunner.build.cache_explain import Change, render_changes
    from buildrunner.build.cache_key import uncacheable_reason
    from buildrunner.display import printable

    cache = _open_cache()
    plan, folder = _plan_for(cache, task_id, plan_file)
    workdir = workdir or folder
    if not workdir.is_dir():
        fail(f"working folder {workdir} does not exist (give --workdir)")
    task = next((task for task in plan.tasks if task.id == task_id), None)
    if task is None:
        fail(f"the plan '{plan.name}' has no task '{task_id}'")
    key = cache.current_key(task, plan=plan, workdir=workdir)
    changes = (
        [Change("uncacheable", detail=uncacheable_reason(task))]
        if key is None
        else cache.changes(key)
    )
    cached = key is not None and not changes
    if json_output:
        emit_json(
            {
                "task_id": task_id,
                "plan": plan.name,
                "key": key.digest if key else None,
                "cached": cached,
                "changes": [change.to_dict() for change in changes],
            }
        )
        return
    name = escape(printable(task_id, one_line=True))
    if cached:
        assert key is not None
        err_console.print(f"[green]{name} is cached[/green] (key {key.short}): a run restores it")
        return
    err_console.print(f"[yellow]{name} would run[/yellow]" + (f" (key {key.short})" if key else ""))
    for line in render_changes(changes):
        err_console.print("  " + escape(printable(line, one_line=True)))


def _plan_for(cache: TaskCache, task_id: str, plan_file: Path | None) -> tuple[Plan, Path]:
    """The plan to explain against and the folder its tasks run in."""
    from buildrunner.parallel.plan import Plan, load_plan

    if plan_file is not None:
        plan = load_plan(plan_file)
        base = plan_file.resolve().parent
        return plan, (base / plan.workdir) if plan.workdir else Path.cwd()
    row = cache.conn.execute(
        "SELECT s.plan_path, s.plan_json, s.metadata FROM sessions s"
        " JOIN tasks t ON t.session_id = s.id WHERE t.task_id = ?"
        " ORDER BY s.created_at DESC LIMIT 1",
        (task_id,),
    ).fetchone()
    if row is not None:
        workdir = Path(json.loads(row["metadata"] or "{}").get("workdir") or Path.cwd())
        path = Path(row["plan_path"]) if row["plan_path"] else None
        for candidate in (path, workdir / path if path else None):
            if candidate is not None and candidate.is_file():  # the plan as it is now
                return load_plan(candidate), workdir if workdir.is_dir() else Path.cwd()
        try:  # the plan file is gone: the plan as it was run
            return Plan.from_json(row["plan_json"]), workdir if workdir.is_dir() else Path.cwd()
        except ValueError:
            pass
    fail(f"no run of a plan with task '{task_id}' is recorded; give --plan PLAN")


@app.command("ls")
def ls_command(
    task_id: str | None = typer.Option(None, "--task", help="Only entries of this task."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Cached task results, oldest first: key, task, size, hits and the cost each hit saves.

    \b
    Examples:
      br cache ls
      br cache ls --json
    """
    from buildrunner.store.db import iso_utc

    cache = _open_cache()
    entries = [entry.summary() for entry in cache.entries(task_id)]
    for item in entries:
        item["created_at"] = iso_utc(item["created_at"])
        item["last_used_at"] = iso_utc(item["last_used_at"])
    if json_output:
        emit_json({"entries": entries, "total_bytes": sum(item["size_bytes"] for item in entries)})
        return
    if not entries:
        err_console.print(
            "the cache is empty" + (f" for task {escape(task_id)}" if task_id else "")
        )
        return
    from rich.table import Table

    from buildrunner.display import printable

    table = Table(title="task cache")
    for column in ("key", "task", "stored", "used", "hits", "size", "saves"):
        table.add_column(column, no_wrap=column != "task")
    for item in entries:
        table.add_row(
            item["key"][:12],
            escape(printable(item["task_id"], one_line=True)),
            _short_time(item["created_at"]),
            _short_time(item["last_used_at"]),
            str(item["hits"]),
            human_size(item["size_bytes"]),
            f"${item['cost_usd']:.4f}",
        )
    err_console.print(table, soft_wrap=False)


@app.command("show")
def show_command(
    key: str = typer.Argument(..., help="A cache key (or its first 4+ hex digits)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """One entry: what went into its key, its outputs and its log.

    \b
    Examples:
      br cache show 3f9a
      br cache show 3f9a --json
    """
    from buildrunner.display import printable
    from buildrunner.store.db import iso_utc

    entry = _open_cache().find(key)
    data: dict[str, Any] = entry.to_manifest() | entry.summary()
    data["created_at"] = iso_utc(entry.created_at)
    data["last_used_at"] = iso_utc(entry.last_used_at)
    if json_output:
        emit_json(data)
        return
    parts = data["parts"]
    lines = [
        f"key {entry.key}",
        f"task {entry.task_id} (plan {entry.plan_name or '-'}, {parts['kind']})",
        f"stored {data['created_at']} by session {entry.session_id or '-'}; "
        f"{entry.hits} hit(s), last {data['last_used_at']}",
        f"cost ${entry.cost_usd} in {entry.duration_s:.2f}s (saved on every hit)",
        *(f"text  {line}" for line in parts["text"].splitlines()),
    ]
    lines += [
        f"{label} {', '.join(parts[name]) or '-'}"
        for label, name in (
            ("route ", "route"),
            ("checks", "checks"),
            ("inputs", "input_patterns"),
            ("files ", "outputs"),
        )
    ]
    lines += [f"input {path} {digest[:12]}" for path, digest in parts["inputs"].items()]
    lines += [f"env   {name} (value hashed)" for name in parts["env"]]
    lines += [f"dep   {name} {digest[:12]}" for name, digest in parts["dependencies"].items()]
    for output in data["outputs"]:
        state = (
            "deleted"
            if output.get("deleted")
            else (f"-> {output['link']}" if "link" in output else human_size(output["size"]))
        )
        lines.append(f"output {output['path']} {state}")
    lines.append(f"log {human_size(entry.log_size)}" if entry.log_sha256 else "log none")
    for line in lines:
        err_console.print(escape(printable(line, one_line=True)))


@app.command("prune")
def prune_command(
    older_than: float | None = typer.Option(
        None, "--older-than", min=0.0, help="Remove entries not used for this many days."
    ),
    max_size: str | None = typer.Option(
        None,
        "--max-size",
        help="Then remove least recently used entries above this size (500MB, 2GiB).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Remove old or least recently used entries (default: down to the configured cache.max_bytes).

    \b
    Examples:
      br cache prune
      br cache prune --older-than 30 --max-size 2GB
    """
    cache = _open_cache()
    limit = parse_size(max_size) if max_size is not None else None
    if older_than is None and limit is None:
        limit = cache.max_bytes
    result = cache.prune(
        older_than_s=older_than * 86400 if older_than is not None else None, max_bytes=limit
    )
    forgotten = cache.forget_missing_files()
    if json_output:
        emit_json(result.to_dict() | {"forgotten_files": forgotten})
        return
    err_console.print(
        f"removed {result.removed_entries} entr{'y' if result.removed_entries == 1 else 'ies'} and "
        f"{result.removed_blobs} blob(s), freed {human_size(result.freed_bytes)}; kept "
        f"{result.kept_entries} ({human_size(result.kept_bytes)}); forgot {forgotten} deleted file(s)"
    )


def _short_time(iso: str) -> str:
    return iso[5:16].replace("T", " ")  # MM-DD HH:MM (UTC)


def human_size(size: int) -> str:
    """Bytes for people: 812 B, 4.2 kB, 1.3 GB."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
