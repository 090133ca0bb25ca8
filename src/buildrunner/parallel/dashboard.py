"""The live dashboard: a snapshot read from the store, rendered with Rich.

Everything here reads only the SQLite store, so a dashboard in another terminal shows the same
thing as the one beside the build. `snapshot()` computes plain data (also the `--json` output of
`br parallel status`); `render()` turns a snapshot into a Rich renderable; `watch_while()` shows
the dashboard while a build runs in the calling thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from buildrunner.parallel.snapshot import TASK_DONE, snapshot
from buildrunner.store.db import Store

__all__ = ["dashboard_snapshot", "live_frames", "render", "snapshot", "watch_while"]

T = TypeVar("T")
MAX_ROWS = 12  # per table in a frame; the rest is summarised as "... and N more"
STATUS_COLOUR = {
    "running": "cyan", "paused": "yellow", "pending": "white", "completed": "green",
    "failed": "red", "cancelled": "yellow", "interrupted": "magenta", "succeeded": "green",
    "skipped": "yellow", "queued": "white", "waiting": "magenta", "idle": "green",
    "busy": "cyan", "offline": "red", "stopped": "dim", "firing": "red",
}


def dashboard_snapshot(
    conn: sqlite3.Connection, session_ref: str | None = None
) -> dict[str, Any]:
    """`snapshot()` plus `reviews`: the focused session's tasks waiting for a review decision
    (rows of the `reviews` table that `br review` decides; see build/review.py)."""
    data = snapshot(conn, session_ref)
    session = data["session"]
    at = time.time()
    data["reviews"] = [] if session is None else [
        {"session_id": row["session_id"], "task_id": row["task_id"], "round": row["round"],
         "waiting_s": round(max(0.0, at - row["requested_at"]), 1)}
        for row in conn.execute(
            "SELECT session_id, task_id, round, requested_at FROM reviews"
            " WHERE session_id = ? AND status = 'pending' ORDER BY requested_at, task_id",
            (session["id"],),
        )
    ]
    return data


# -- rendering -------------------------------------------------------------------------------
def duration_text(seconds: float | None) -> str:
    """Seconds as short human text: 4.2s, 3m05s, 2h07m."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def styled(status: str) -> Text:
    return Text(status, style=STATUS_COLOUR.get(status, ""))


def render(data: dict[str, Any]) -> RenderableType:
    """A whole dashboard frame for a snapshot."""
    session = data["session"]
    if session is None:
        return Panel(
            "no sessions yet: start one with [bold]br run PLAN[/bold] or "
            "[bold]br parallel start NAME --plan PLAN[/bold]",
            title="BuildRunner", border_style="dim",
        )
    parts: list[RenderableType] = [render_header(data)]
    if len(data["sessions"]) > 1 or (
        data["sessions"] and data["sessions"][0]["id"] != session["id"]
    ):
        parts.append(_sessions_table(data["sessions"]))
    parts.append(workers_table(data["workers"]))
    if data.get("reviews"):
        parts.append(reviews_table(data["reviews"]))
    parts.append(_tasks_table(data))
    if data["locks"]:
        parts.append(locks_table(data["locks"]))
    if data["alerts"]:
        parts.append(_alerts_table(data["alerts"]))
    return Group(*parts)


def render_header(data: dict[str, Any]) -> RenderableType:
    """The focused session: name, status, progress bar, task counts, cost."""
    session = data["session"]
    counts = session["tasks"]
    done = sum(counts[status] for status in TASK_DONE)
    line = Text.assemble(
        (session["name"], "bold"), f"  {session['id']}  ", styled(session["status"]),
        f"  {session['workers']} workers ({session['backend']})",
        f"  elapsed {duration_text(session['elapsed_s'])}",
    )
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=max(counts["total"], 1), completed=done, width=40),
        Text(f"{done}/{counts['total']} ({session['progress']:.0f}%)"),
    )
    tally = Text("  ".join(
        f"{status} {counts[status]}" for status in (
            "running", "queued", "waiting", "pending", "succeeded", "failed", "skipped", "cancelled"
        ) if counts[status]
    ) or "no tasks")
    tally.append(f"   cost so far ${data['cost_usd']:.4f}")
    body: list[RenderableType] = [line, bar, tally]
    if "resume_hint" in session:
        body.append(Text(f"resume with: {session['resume_hint']}", style="magenta"))
    return Panel(Group(*body), title="session", border_style=STATUS_COLOUR.get(session["status"], ""))


def render_status(data: dict[str, Any]) -> RenderableType:
    """`br parallel status`: the session, then running, waiting and failed tasks, and its locks."""
    parts: list[RenderableType] = [render_header(data)]
    if data["running"]:
        table = Table(title="running", title_justify="left")
        for column in ("task", "worker", "attempt", "elapsed"):
            table.add_column(column)
        for item in data["running"]:
            table.add_row(item["task_id"], item["worker_id"] or "-", str(item["attempt"]),
                          duration_text(item["elapsed_s"]))
        parts.append(table)
    if data["waiting"]:
        table = Table(title="waiting for file locks", title_justify="left")
        table.add_column("task")
        table.add_column("waiting on")
        for item in data["waiting"]:
            table.add_row(item["task_id"], item["waiting_on"] or "-")
        parts.append(table)
    if data["failed"]:
        table = Table(title="failed", title_justify="left", border_style="red")
        for column in ("task", "exit", "error", "log"):
            table.add_column(column)
        for item in data["failed"]:
            exit_code = "-" if item["exit_code"] is None else str(item["exit_code"])
            table.add_row(item["task_id"], exit_code, item["error"] or "-", item["log_path"] or "-")
        parts.append(table)
    if data["locks"]:
        parts.append(locks_table(data["locks"]))
    if data.get("reviews"):
        parts.append(reviews_table(data["reviews"]))
    if data.get("kept_branches"):
        parts.append(kept_branches_table(data["kept_branches"]))
    return Group(*parts)


def reviews_table(reviews: list[dict[str, Any]]) -> Table:
    """Tasks waiting for `br review approve|reject`."""
    from buildrunner.display import printable

    table = Table(title="waiting for review", title_justify="left", border_style="yellow")
    for column in ("task", "round", "waiting", "decide with"):
        table.add_column(column)
    for item in reviews[:MAX_ROWS]:
        task = printable(item["task_id"], one_line=True)
        table.add_row(task, str(item["round"]), duration_text(item["waiting_s"]),
                      f"br review {item['session_id']} {task}")
    _more(table, len(reviews))
    return table


def kept_branches_table(kept: list[dict[str, Any]]) -> Table:
    """Branches that hold work your tree does not have (kept by `br parallel cleanup`)."""
    from buildrunner.display import printable

    table = Table(title="kept branches (work not in your tree)", title_justify="left",
                  border_style="magenta")
    for column in ("branch", "session", "task", "why"):
        table.add_column(column)
    for item in kept[:MAX_ROWS]:
        table.add_row(printable(item["branch"], one_line=True), item["session_id"],
                      printable(item["task_id"] or "-", one_line=True), item["reason"])
    _more(table, len(kept))
    return table


def _sessions_table(sessions: list[dict[str, Any]]) -> Table:
    table = Table(title="active sessions", title_justify="left", expand=False)
    for column in ("id", "name", "status", "progress", "running", "elapsed"):
        table.add_column(column)
    for item in sessions[:MAX_ROWS]:
        table.add_row(
            item["id"], item["name"], styled(item["status"]), f"{item['progress']:.0f}%",
            str(item["tasks"]["running"]), duration_text(item["elapsed_s"]),
        )
    return table


def workers_table(workers: list[dict[str, Any]], title: str = "workers") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("worker", "pid", "status", "task", "last heartbeat", "done", "failed"):
        table.add_column(column)
    for worker in workers[:MAX_ROWS]:
        table.add_row(
            worker["id"], str(worker["pid"] or "-"), styled(worker["status"]),
            worker["current_task"] or "-", f"{duration_text(worker['heartbeat_age_s'])} ago",
            str(worker["tasks_completed"]), str(worker["tasks_failed"]),
        )
    _more(table, len(workers))
    return table


def _tasks_table(data: dict[str, Any]) -> Table:
    table = Table(title="tasks", title_justify="left")
    for column in ("task", "status", "worker / detail", "time"):
        table.add_column(column)
    rows: list[tuple[str, Text, str, str]] = []
    for item in data["running"]:
        attempt = f" (attempt {item['attempt']})" if item["attempt"] > 1 else ""
        rows.append((item["task_id"], styled("running"), f"{item['worker_id']}{attempt}",
                     duration_text(item["elapsed_s"])))
    for item in data["waiting"]:
        rows.append((item["task_id"], styled("waiting"), f"on {item['waiting_on']}", "-"))
    for item in data["queued"]:
        rows.append((item["task_id"], styled(item["status"]), "", "-"))
    for item in data["done"]:
        detail = next(
            (f"{failed['error'] or ''} log: {failed['log_path']}" for failed in data["failed"]
             if failed["task_id"] == item["task_id"]),
            "",
        )
        rows.append((item["task_id"], styled(item["status"]), detail,
                     duration_text(item["duration_s"])))
    for row in rows[: MAX_ROWS * 2]:
        table.add_row(*row)
    _more(table, len(rows), MAX_ROWS * 2)
    return table


def locks_table(locks: list[dict[str, Any]]) -> Table:
    table = Table(title="held file locks", title_justify="left")
    for column in ("path", "task", "session", "held", "owner"):
        table.add_column(column)
    for lock in locks[:MAX_ROWS]:
        owner = f"pid {lock['owner_pid']}" + ("" if lock["owner_alive"] else " (dead)")
        table.add_row(lock["path"], lock["task_id"], lock["session_id"],
                      duration_text(lock["held_s"]), owner)
    _more(table, len(locks))
    return table


def _alerts_table(alerts: list[dict[str, Any]]) -> Table:
    table = Table(title="active alerts", title_justify="left", border_style="red")
    for column in ("level", "threshold", "message", "since"):
        table.add_column(column)
    for alert in alerts[:MAX_ROWS]:
        table.add_row(alert["level"], alert["threshold"], alert["message"], alert["fired_at"] or "-")
    _more(table, len(alerts))
    return table


def _more(table: Table, total: int, shown: int = MAX_ROWS) -> None:
    if total > shown:
        table.caption = f"... and {total - shown} more"


# -- showing live ----------------------------------------------------------------------------
def live_frames(
    store: Store,
    session_ref: str | None,
    console: Console,
    *,
    refresh_s: float = 0.5,
    stop: threading.Event | None = None,
    duration_s: float | None = None,
) -> None:
    """Re-render the dashboard from the store every `refresh_s` until `stop` or `duration_s`."""
    from rich.live import Live

    stop = stop or threading.Event()
    deadline = None if duration_s is None else time.monotonic() + duration_s
    conn = store.connect()
    try:
        with Live(
            render(dashboard_snapshot(conn, session_ref)), console=console, auto_refresh=False,
            redirect_stdout=False, redirect_stderr=False,
        ) as live:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                wait = refresh_s if remaining is None else min(refresh_s, remaining)
                finished = stop.wait(wait)
                live.update(render(dashboard_snapshot(conn, session_ref)), refresh=True)
                if finished:
                    break
        if not console.is_terminal:
            console.line()  # Live leaves the last frame without a line end when not on a terminal
    finally:
        conn.close()


def watch_while(
    store: Store,
    session_id: str,
    fn: Callable[[], T],
    *,
    refresh_s: float = 0.5,
    console: Console | None = None,
) -> T:
    """Run `fn()` (the build) here while a daemon thread shows the live dashboard; return its result.

    The build stays in the calling thread so its signal handlers (Ctrl-C) keep working.
    """
    shown_on = console or Console(stderr=True, highlight=False)
    stop = threading.Event()

    def show() -> None:
        # the dashboard must never take the build down with it: a failing frame ends the display
        with suppress(Exception):
            live_frames(store, session_id, shown_on, refresh_s=refresh_s, stop=stop)

    thread = threading.Thread(target=show, name="br-dashboard", daemon=True)
    thread.start()
    try:
        return fn()
    finally:
        stop.set()
        thread.join(timeout=5)
