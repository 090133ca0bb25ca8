"""How `br run` shows a build: progress marks, a failed task's output, the closing summary, and the
dry run's table. Rendering only: the numbers come from the run's summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from buildrunner.cli.common import emit_json, err_console
from buildrunner.display import printable

FAILED_OUTPUT_LINES = 20  # of a failed task's log, shown under its line

STATUS_STYLE = {
    "succeeded": "[green]✓[/green]",
    "failed": "[red]✗[/red]",
    "skipped": "[yellow]-[/yellow]",
    "running": "[cyan]▶[/cyan]",
    "waiting": "[magenta]…[/magenta]",
    "retrying": "[yellow]↻[/yellow]",
    "cancelled": "[yellow]■[/yellow]",
    "warning": "[yellow]![/yellow]",
    "paused": "[yellow]‖[/yellow]",
    "cached": "[green]↺[/green]",
    "review": "[magenta]?[/magenta]",
    "miss": "[dim]·[/dim]",
}


def shown_dir(folder: Path) -> str:
    try:
        relative = folder.relative_to(Path.cwd().resolve())
    except ValueError:
        return str(folder)
    return "." if str(relative) == "." else f"./{relative}"


def print_tail(log_path: Path) -> None:
    """The last lines of a failed task's log (masked when written), indented under its line."""
    from buildrunner.security.masking import mask_text

    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, 2) - 16_384))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return
    lines = [line for line in text.splitlines() if line.strip()][-FAILED_OUTPUT_LINES:]
    for line in lines:
        err_console.print(f"    [dim]{escape(printable(mask_text(line), one_line=True))}[/dim]")


def print_summary(data: dict[str, Any]) -> None:
    tasks = data["tasks"]
    colour = "green" if data["status"] == "completed" else "red"
    money = ""
    if "cost_usd" in data:
        money = f", cost ${data['cost_usd']}"
        if float(data.get("saved_usd") or 0):
            money += f" (saved ${data['saved_usd']})"
    err_console.print(
        f"[{colour}]{data['status']}[/{colour}] {escape(printable(data['name']))} in "
        f"{data['duration_s']:.2f}s: {tasks['succeeded']} succeeded, {tasks['failed']} failed, "
        f"{tasks['skipped']} skipped"
        + (f", {tasks['cancelled']} cancelled" if tasks["cancelled"] else "")
        + money
        + f" (session {data['session_id']})"
    )
    waits = data.get("lock_waits") or {}
    if waits.get("tasks"):
        err_console.print(
            f"{waits['tasks']} task(s) waited {waits['seconds']:.1f}s in all for files other tasks held"
        )
    for alert in data.get("alerts", []):
        err_console.print(
            f"[yellow]alert {escape(alert['threshold'])} ({alert['level']}, {alert['status']}):"
            f"[/yellow] {escape(printable(alert['message'], one_line=True))}"
        )
    merge = data.get("merge")
    if merge:
        colour = "green" if merge["merged"] else "red"
        err_console.print(f"[{colour}]worktree: {escape(merge['detail'])}[/{colour}]")
    if data["status"] == "interrupted":
        err_console.print(f"resume with: br run --resume {data['session_id']}")
    if data["status"] == "paused":
        err_console.print(
            f"[yellow]{escape(data.get('paused_reason', 'paused'))}[/yellow]\n"
            f"raise the budget and go on where it stopped: "
            f"br parallel resume {data['session_id']} --budget USD"
        )


def show_dry_run(plan: Any, settings: Any, json_output: bool, workdir: Path) -> None:
    from buildrunner.parallel.plan import topological_order
    from buildrunner.security.masking import mask_text

    order = topological_order(plan)
    rows = []
    for task_id in order:
        task = plan.task(task_id)
        row: dict[str, Any] = {
            "id": task.id,
            "kind": task.kind,
            "depends_on": task.depends_on,
            "files": task.files,
        }
        if task.kind == "command":
            row["run"] = mask_text(task.run)  # a command line can hold a credential
        else:
            row.update(_route(task, settings, workdir, bool(task.check or plan.check)))
        rows.append(row)
    if json_output:
        emit_json({"name": plan.name, "dry_run": True, "workdir": str(workdir), "tasks": rows})
        return
    from rich.table import Table

    table = Table(title=f"{escape(printable(plan.name))} (dry run: nothing runs)")
    for column in ("task", "kind", "after", "what / route"):
        table.add_column(column, overflow="fold")
    for row in rows:
        ladder = " -> ".join(row.get("ladder") or [row.get("model", "?")])
        what = escape(printable(row.get("run") or "")) or (
            f"{ladder} ({row.get('level', '?')}), est. ${row.get('estimated_cost_usd', '?')}"
            if "error" not in row
            else f"[red]{escape(printable(row['error']))}[/red]"
        )
        table.add_row(
            escape(printable(row["id"])),
            row["kind"],
            escape(printable(", ".join(row["depends_on"]))),
            what,
        )
    err_console.print(table)
    err_console.print(f"tasks would run in {escape(shown_dir(workdir))}")


def _route(task: Any, settings: Any, workdir: Path, has_checks: bool) -> dict[str, Any]:
    from buildrunner.routing.selector import route_task

    try:
        return route_task(task, settings, root=workdir, has_checks=has_checks)
    except Exception as exc:  # a task that cannot be routed is shown, not fatal for a dry run
        return {"error": str(exc)}
