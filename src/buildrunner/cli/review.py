"""`br review ...`: see an isolated task's work (diff, checks, cost, model) and decide on it.

`br review [SESSION] [TASK]` shows; `br review approve TASK` and `br review reject TASK --reason
"..." [--retry]` decide. Decisions are written to the store, where the session's owner (the
`br run` waiting on them) reads them, so they work from any terminal and in CI (`--json`).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console


class _ShowByDefault(TyperGroup):
    """`br review [SESSION] [TASK]` means `br review show [SESSION] [TASK]`."""

    def parse_args(
        self, ctx: Any, args: list[str]
    ) -> list[str]:  # click.Context, as typer vendors it
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ShowByDefault,
    no_args_is_help=False,
    help="Review isolated tasks' work before it merges: show, approve, reject.",
)
SESSION_OPTION = typer.Option(
    None,
    "--session",
    "-s",
    help="Session id, id prefix or name (default: the newest one in which TASK waits for review).",
    show_default=False,
)


@app.command("show")
def show_command(
    session: str | None = typer.Argument(
        None,
        help="Session id, id prefix or name (default: the newest with reviews).",
        show_default=False,
    ),
    task: str | None = typer.Argument(
        None, help="A task: show its diff, checks, cost and model.", show_default=False
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Tasks waiting for review (and decided ones), and isolated tasks' changes and conflicts;
    with TASK, that task's work in full (diff, conflicting hunks, checks, cost, model).

    \b
    Examples:
      br review show
      br review show --json
    """
    from buildrunner.build.review import isolated_tasks, list_reviews, review_details
    from buildrunner.cli.common import open_db, project_store
    from buildrunner.cli.parallel_cleanup import repository
    from buildrunner.parallel.sessions import get_session

    store = project_store()
    conn = open_db(store)
    repo = repository(store.root)
    session_id = get_session(conn, session).id if session is not None else _newest_reviewed(conn)
    if task is not None and session_id is not None:  # TASK comes after SESSION: both given
        details = review_details(conn, store.data_dir, repo, session_id, task)
        if json_output:
            emit_json(details)
        else:
            _print_details(details)
        return
    reviews = [item.to_json() for item in list_reviews(conn, session_id)] if session_id else []
    isolated = isolated_tasks(store.data_dir, repo, session_id) if session_id else []
    if json_output:
        emit_json({"session_id": session_id, "reviews": reviews, "isolated": isolated})
    elif not reviews and not isolated:
        err_console.print("no tasks waiting for review")
    else:
        _print_list(session_id or "", reviews, isolated)


@app.command("approve")
def approve_command(
    task: str = typer.Argument(..., help="The task to approve.", show_default=False),
    session: str | None = SESSION_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Approve a task's work: the build merges it.

    \b
    Examples:
      br review approve add-auth
      br review approve add-auth --json
    """
    _decide(task, session, "approved", None, json_output)


@app.command("reject")
def reject_command(
    task: str = typer.Argument(..., help="The task to reject.", show_default=False),
    reason: str = typer.Option(
        ..., "--reason", "-r", help="Why (required; masked).", show_default=False
    ),
    retry: bool = typer.Option(
        False, "--retry", help="Send the task back to its agent with the reason as a fix round."
    ),
    session: str | None = SESSION_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Reject a task's work (it does not merge), or send it back for a fix round (--retry).

    \b
    Examples:
      br review reject add-auth --reason 'keeps the old token format'
      br review reject add-auth --reason 'also update the docs' --retry
    """
    _decide(task, session, "retry" if retry else "rejected", reason, json_output)


def _decide(
    task: str, session: str | None, decision: str, reason: str | None, json_output: bool
) -> None:
    from buildrunner.build.review import decide, find_review
    from buildrunner.cli.common import open_db
    from buildrunner.display import printable
    from buildrunner.parallel.sessions import get_session

    conn = open_db()
    session_id = get_session(conn, session).id if session is not None else None
    review = decide(conn, find_review(conn, task, session_id).session_id, task, decision, reason)
    if json_output:
        emit_json(review.to_json())
        return
    said = {
        "approved": "approved: it merges",
        "rejected": "rejected: it does not merge",
        "retry": "sent back to its agent for a fix round",
    }[decision]
    err_console.print(
        f"task {printable(task, one_line=True)} of session {review.session_id} {said}", markup=False
    )


def _newest_reviewed(conn: Any) -> str | None:
    """The newest session with a task waiting for review, else with any review, else the newest."""
    row = (
        conn.execute(
            "SELECT r.session_id FROM reviews r JOIN sessions s ON s.id = r.session_id"
            " ORDER BY r.status != 'pending', s.created_at DESC LIMIT 1"
        ).fetchone()
        or conn.execute("SELECT id FROM sessions ORDER BY created_at DESC LIMIT 1").fetchone()
    )
    return None if row is None else str(row[0])


def _print_list(
    session_id: str, reviews: list[dict[str, Any]], isolated: list[dict[str, Any]]
) -> None:
    from rich.table import Table

    from buildrunner.display import printable

    if isolated:
        changes = Table(title=f"isolated tasks of session {session_id}", title_justify="left")
        for column in ("task", "state", "branch", "files", "conflicts"):
            changes.add_column(column)
        for item in isolated:
            changes.add_row(
                printable(item["task_id"], one_line=True),
                item["state"],
                printable(item["branch"], one_line=True),
                str(len(item["files"])),
                printable(", ".join(item["conflicts"]) or "-", one_line=True),
            )
        err_console.print(changes, soft_wrap=False)
    if not reviews:
        return
    table = Table(title=f"reviews of session {session_id}", title_justify="left")
    for column in ("task", "status", "round", "asked", "decided by", "reason"):
        table.add_column(column)
    for item in reviews:
        table.add_row(
            printable(item["task_id"], one_line=True),
            item["status"],
            str(item["round"]),
            item["requested_at"],
            item["decided_by"] or "-",
            printable(item["reason"] or "-", one_line=True),
        )
    err_console.print(table, soft_wrap=False)
    waiting = [item["task_id"] for item in reviews if item["status"] == "pending"]
    if waiting:
        err_console.print(
            f"waiting: {len(waiting)}; see one with 'br review {session_id} TASK', "
            "decide with 'br review approve TASK' or 'br review reject TASK "
            "--reason ...'",
            markup=False,
        )


def _print_details(details: dict[str, Any]) -> None:
    from rich.text import Text

    from buildrunner.display import printable

    def line(text: str, style: str = "") -> None:
        err_console.print(Text(printable(text), style=style), soft_wrap=True)

    review = (
        "never sent for review"
        if details["review_status"] is None
        else f"review {details['review_status']} (round {details['round']})"
    )
    line(f"task {details['task_id']} of session {details['session_id']}: {review}", "bold")
    if details["reason"]:
        line(f"reason: {details['reason']}")
    line(
        f"task {details['task_status'] or '-'}, model {details['model'] or '-'}, "
        f"cost ${details['cost_usd']:.4f}, attempts {details['attempts']}"
    )
    for check in details["checks"]:
        verdict = "passed" if check["passed"] else f"failed (exit {check['exit_code']})"
        line(f"check {verdict}: {check['command']}", "green" if check["passed"] else "red")
    if not details["isolated"]:
        line("no isolated change recorded for this task (it ran in place, or changed nothing)")
        return
    line(f"branch {details['branch']} ({details['state']}), {len(details['files'])} file(s)")
    for hunk in details["hunks"]:
        line(
            f"conflict in {hunk['path']}"
            + (f" at line {hunk['line']}" if hunk["line"] else f" ({hunk['kind']})"),
            "red",
        )
        if hunk["message"]:
            line(f"  {hunk['message']}")
        for side, label in (("ours", "merged since its base"), ("theirs", "this task")):
            if hunk[side]:
                line(f"  --- {label}:\n{hunk[side]}".rstrip())
    for diff_line in (details["diff"] or "").splitlines():
        style = (
            "green"
            if diff_line.startswith("+")
            else "red"
            if diff_line.startswith("-")
            else "cyan"
            if diff_line.startswith("@@")
            else ""
        )
        line(diff_line, style)
