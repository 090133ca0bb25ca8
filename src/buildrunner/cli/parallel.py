"""`br parallel ...`: sessions, workers, file locks and the live dashboard.

Every command here except `start` and `resume` only reads the store (or queues a control request
for the session's owner), so they all work from another terminal while builds run.
"""

from __future__ import annotations

import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail
from buildrunner.cli.parallel_cleanup import cleanup_command, kept_branches

app = typer.Typer(help="Sessions, workers, file locks and the live dashboard.", no_args_is_help=True)

SESSION_STATUSES = (
    "pending", "running", "paused", "completed", "failed", "cancelled", "interrupted",
)
WORKER_STATUSES = ("idle", "busy", "offline", "stopped")
SESSION_ARG = typer.Argument(None, help="Session id, id prefix or name (default: the newest).",
                             show_default=False)
# `br parallel list` at 80 columns: id and status whole; then name, failed, tasks, ok, created
SESSION_COLUMNS = (
    ("id", "key"), ("name", 4), ("status", "key"), ("created", 1), ("tasks", 3), ("ok", 2),
    ("failed", 5),
)
WAIT_OPTION = typer.Option(
    10.0, "--wait", min=0.0, help="Seconds to wait for the session's owner to act (0: do not wait)."
)


@app.command("start")
def start_command(
    name: str = typer.Argument(..., help="Name of the session."),
    plan: Path = typer.Option(..., "--plan", "-p", help="The plan YAML file.", show_default=False),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, max=256, help="Tasks to run at once (default: config, 4)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="Where tasks run: local or ray."),
    budget: float | None = typer.Option(None, "--budget", min=0.0, help="Hard budget in USD."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address."),
    isolate: str | None = typer.Option(
        None, "--isolate",
        help="none, or worktree: run in a git worktree under .buildrunner/worktrees and merge back.",
    ),
    watch: bool = typer.Option(False, "--watch", help="Show the live dashboard while it runs."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Run a plan as a named session (the same build as `br run PLAN --name NAME`).

    Exit 0 when every task succeeded, 1 when a task failed, 2 on bad input, 130 when interrupted.

    \b
    Examples:
      br parallel start nightly --plan plan.yaml --workers 4
    """
    from buildrunner.cli.run import run_build

    run_build(plan, name=name, workers=workers, backend=backend, ray_address=ray_address,
              budget=budget, watch=watch, isolate=isolate, json_output=json_output)


@app.command("status")
def status_command(session: str | None = SESSION_ARG, json_output: bool = JSON_OPTION) -> None:
    """Progress of a session: running, waiting and failed tasks, held locks, cost so far, tasks
    waiting for review, and branches kept because they hold work your tree does not have.

    \b
    Examples:
      br parallel status
      br parallel status nightly --json
    """
    from buildrunner.cli.common import open_db, project_store
    from buildrunner.parallel.dashboard import dashboard_snapshot, render_status

    store = project_store()
    data = dashboard_snapshot(open_db(store, write=False), session)
    data["kept_branches"] = [item.to_json() for item in kept_branches(store)]
    if data["session"] is not None:
        data["locks"] = [lock for lock in data["locks"]
                         if lock["session_id"] == data["session"]["id"]]
    if json_output:
        emit_json(data)
    elif data["session"] is None:
        err_console.print("no sessions yet: start one with 'br run PLAN'")
        if data["kept_branches"]:
            from buildrunner.parallel.dashboard import kept_branches_table

            err_console.print(kept_branches_table(data["kept_branches"]), soft_wrap=False)
    else:
        err_console.print(render_status(data), soft_wrap=False)


@app.command("list")
def list_command(
    status: str | None = typer.Option(
        None, "--status", "-s", help=f"Only sessions in this state ({', '.join(SESSION_STATUSES)})."
    ),
    limit: int = typer.Option(20, "--limit", "-l", min=1, help="Show at most this many (newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Sessions, newest last, with their task counts.

    \b
    Examples:
      br parallel list
      br parallel list --status failed --json
    """
    from buildrunner.cli.common import open_db
    from buildrunner.parallel.sessions import iso, list_sessions, task_counts
    from buildrunner.parallel.snapshot import session_state

    if status is not None and status not in SESSION_STATUSES:
        fail(f"--status must be one of {', '.join(SESSION_STATUSES)}, not '{status}'")
    conn = open_db(write=False)
    rows = [row for row in list_sessions(conn) if status is None or session_state(row) == status]
    sessions: list[dict[str, Any]] = []
    for row in rows[-limit:]:
        counts = task_counts(conn, row.id)
        sessions.append({
            "id": row.id, "name": row.name, "status": session_state(row),
            "created_at": iso(row.created_at),
            "tasks": counts | {"total": sum(counts.values())},
        })
    if json_output:
        emit_json({"sessions": sessions})
        return
    if not sessions:
        err_console.print("no sessions" + (f" with status {status}" if status else ""))
        return
    from buildrunner.cli.tables import print_fitted

    print_fitted(err_console, "sessions", SESSION_COLUMNS, [
        [item["id"], item["name"], item["status"], item["created_at"][:16].replace("T", " "),
         item["tasks"]["total"], item["tasks"]["succeeded"], item["tasks"]["failed"]]
        for item in sessions
    ])


@app.command("dashboard")
def dashboard_command(
    session: str | None = SESSION_ARG,
    refresh: float = typer.Option(0.5, "--refresh", "-r", min=0.05, help="Seconds between frames."),
    duration: float | None = typer.Option(
        None, "--duration", "-d", min=0.0, help="Stop after this many seconds (default: Ctrl-C)."
    ),
    once: bool = typer.Option(False, "--once", help="Render one frame and exit."),
    json_output: bool = typer.Option(
        False, "--json", help="Print one snapshot as JSON on stdout and exit."
    ),
) -> None:
    """Live view from the store: sessions, workers, tasks, locks, cost and alerts.

    Without SESSION it follows the newest session, so it can be opened before a build starts.

    \b
    Examples:
      br parallel dashboard
      br parallel dashboard --once
    """
    from buildrunner.cli.common import open_db, project_store
    from buildrunner.parallel.dashboard import dashboard_snapshot, live_frames, render

    store = project_store()
    if once or json_output:
        data = dashboard_snapshot(open_db(store, write=False), session)
        if json_output:
            emit_json(data)
        else:
            err_console.print(render(data), soft_wrap=False)
        return
    with suppress(KeyboardInterrupt):
        live_frames(store, session, err_console, refresh_s=refresh, duration_s=duration)


@app.command("workers")
def workers_command(
    session: str | None = SESSION_ARG,
    status: str | None = typer.Option(
        None, "--status", "-s", help=f"Only workers in this state ({', '.join(WORKER_STATUSES)})."
    ),
    all_sessions: bool = typer.Option(False, "--all", help="Workers of every session."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Worker processes of a session with their last heartbeat and task counts.

    \b
    Examples:
      br parallel workers
      br parallel workers --all --json
    """
    from buildrunner.cli.common import open_db
    from buildrunner.errors import SessionError
    from buildrunner.parallel.dashboard import workers_table
    from buildrunner.parallel.sessions import get_session
    from buildrunner.parallel.snapshot import workers_view

    if status is not None and status not in WORKER_STATUSES:
        fail(f"--status must be one of {', '.join(WORKER_STATUSES)}, not '{status}'")
    conn = open_db(write=False)
    session_id: str | None = None
    if not all_sessions:
        try:
            session_id = get_session(conn, session).id
        except SessionError:
            if session is not None:
                raise
    rows = [] if session_id is None and not all_sessions else workers_view(
        conn, session_id, time.time()
    )
    rows = [row for row in rows if status is None or row["status"] == status]
    if json_output:
        emit_json({"session_id": session_id, "workers": rows})
    elif not rows:
        err_console.print("no workers")
    else:
        err_console.print(
            workers_table(rows, f"workers of {session_id or 'all sessions'}"), soft_wrap=False
        )


@app.command("locks")
def locks_command(
    session: str | None = typer.Option(
        None, "--session", help="Only locks of this session (id, prefix or name)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """File locks held now, across all sessions (a dead owner's locks are freed on next use).

    \b
    Examples:
      br parallel locks
      br parallel locks --json
    """
    from buildrunner.cli.common import open_db
    from buildrunner.parallel.dashboard import locks_table
    from buildrunner.parallel.sessions import get_session
    from buildrunner.parallel.snapshot import locks_view

    conn = open_db(write=False)
    session_id = get_session(conn, session).id if session is not None else None
    rows = locks_view(conn, session_id, time.time())
    if json_output:
        emit_json({"locks": rows})
    elif not rows:
        err_console.print("no file locks held")
    else:
        err_console.print(locks_table(rows), soft_wrap=False)


@app.command("summary")
def summary_command(json_output: bool = JSON_OPTION) -> None:
    """Totals across sessions: sessions by state, tasks by state, live workers, locks, cost.

    \b
    Examples:
      br parallel summary
      br parallel summary --json
    """
    from buildrunner.cli.common import open_db
    from buildrunner.parallel.snapshot import summary

    data = summary(open_db(write=False))
    if json_output:
        emit_json(data)
        return
    _print_summary(data)


def _print_summary(data: dict[str, Any]) -> None:
    def tally(counts: dict[str, int]) -> str:
        return ", ".join(f"{count} {name}" for name, count in counts.items() if count) or "none"

    err_console.print(f"[bold]sessions[/bold] {data['sessions']['total']}: "
                      f"{tally(data['sessions']['by_status'])}")
    err_console.print(f"[bold]tasks[/bold] {tally(data['tasks'])}")
    workers = data["workers"]
    err_console.print(f"[bold]workers[/bold] of active sessions: {tally(workers['by_status'])}"
                      f" (utilization {workers['utilization']:.0f}%)")
    err_console.print(f"[bold]locks held[/bold] {data['locks_held']}   "
                      f"[bold]cost[/bold] ${data['cost_usd']:.4f}   "
                      f"[bold]alerts firing[/bold] {data['alerts_firing']}")


@app.command("pause")
def pause_command(
    session: str = typer.Argument(..., help="Session id, id prefix or name."),
    wait: float = WAIT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Pause a running session: running tasks finish, no new task starts.

    \b
    Examples:
      br parallel pause nightly
    """
    _control(session, "pause", wait, json_output)


@app.command("resume")
def resume_command(
    session: str = typer.Argument(..., help="Session id, id prefix or name."),
    budget: float | None = typer.Option(
        None, "--budget", min=0.0, help="A new hard budget for the session, in USD."
    ),
    wait: float = WAIT_OPTION,
    watch: bool = typer.Option(
        False, "--watch", help="When continuing an interrupted session: show the dashboard."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Resume a paused session; continue an interrupted (or failed) one in this terminal.

    A paused session whose owner runs is asked to go on. A session whose owner process is gone is
    continued here, like `br run --resume SESSION`: completed tasks are not run again.

    \b
    Examples:
      br parallel resume nightly
    """
    from buildrunner.cli.common import open_db
    from buildrunner.parallel.sessions import get_session
    from buildrunner.parallel.snapshot import session_state

    conn = open_db()
    row = get_session(conn, session)
    if session_state(row) in ("interrupted", "failed"):
        from buildrunner.cli.run import run_build

        run_build(None, resume=row.id, watch=watch, json_output=json_output, budget=budget)
        return
    if budget is not None:  # the owner reads the session's budget at its next reservation
        from buildrunner.parallel.sessions import set_session_budget

        set_session_budget(conn, row.id, budget)
    _control(row.id, "resume", wait, json_output)


@app.command("cancel")
def cancel_command(
    session: str = typer.Argument(..., help="Session id, id prefix or name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    wait: float = WAIT_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Cancel a session: running tasks are stopped, nothing new starts, its locks are freed.

    \b
    Examples:
      br parallel cancel nightly --yes
    """
    from buildrunner.cli.common import open_db
    from buildrunner.parallel.control import cancel_orphan, check_control
    from buildrunner.parallel.sessions import get_session
    from buildrunner.parallel.snapshot import session_state

    conn = open_db()
    row = get_session(conn, session)
    orphan = session_state(row) == "interrupted"
    if not orphan:
        check_control(row, "cancel")
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Cancel session {row.id} ({row.name})?", abort=True)
    if orphan:
        _report(cancel_orphan(conn, row).to_json(), json_output)
        return
    _control(row.id, "cancel", wait, json_output)


def _control(session: str, action: str, wait: float, json_output: bool) -> None:
    from buildrunner.cli.common import open_db
    from buildrunner.parallel.control import control_session

    result = control_session(open_db(), session, action, wait_s=wait)
    _report(result.to_json(), json_output)


def _report(result: dict[str, Any], json_output: bool) -> None:
    if json_output:
        emit_json(result)
        return
    done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[str(result["action"])]
    if result["reached"]:
        err_console.print(f"session {result['session_id']} {done} (status {result['status']})")
    else:
        err_console.print(
            f"asked the owner of session {result['session_id']} to {result['action']} it;"
            f" status is still {result['status']} (see 'br parallel status {result['session_id']}')"
        )


# `cleanup` (sessions, worktrees, branches) lives in its own module
app.command("cleanup")(cleanup_command)
