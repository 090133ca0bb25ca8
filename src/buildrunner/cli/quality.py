"""`br quality check`: the quality gates, each with pass/fail/skip and the reason."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console
from buildrunner.display import printable

app = typer.Typer(
    help="Quality gates: security clean, tests passed, coverage, budget, no critical alert.",
    no_args_is_help=True,
)

MARKS = {"pass": "[green]pass[/green]", "fail": "[red]FAIL[/red]", "skip": "[dim]skip[/dim]"}


@app.command("check")
def check_command(
    session: str | None = typer.Option(
        None, "--session", help="Judge this build (default: newest)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Run every gate; exit 1 if any fails (skipped gates are not configured and do not fail).

    \b
    Examples:
      br quality check
      br quality check --json
    """
    from buildrunner.cli.common import open_db, project_settings, project_store
    from buildrunner.parallel.sessions import get_session
    from buildrunner.quality.checks import check_quality, session_workdir
    from buildrunner.quality.gates import latest_session_id

    store = project_store()
    settings = project_settings(store)
    conn = open_db(store, write=False)
    session_id = get_session(conn, session).id if session else latest_session_id(conn)
    workdir = session_workdir(conn, session_id, store.root)
    judged, results = check_quality(conn, workdir, settings, session_id)
    failed = [result for result in results if result.outcome == "fail"]
    if json_output:
        emit_json(
            {
                "session_id": judged,
                "passed": not failed,
                "gates": [result.to_dict() for result in results],
            }
        )
    else:
        print_gates(results)
        verdict = (
            "[red]quality gates failed[/red]" if failed else "[green]quality gates passed[/green]"
        )
        err_console.print(verdict)
    if failed:
        raise typer.Exit(1)


def print_gates(results: list[Any]) -> None:
    """One line per gate on stderr: pass / FAIL / skip, its name and why."""
    for result in results:
        reason = escape(printable(result.reason, one_line=True))
        err_console.print(f"{MARKS[result.outcome]}  {result.gate:<9} {reason}")
