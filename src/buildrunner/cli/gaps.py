"""`br gaps analyze`: what the plan asked for versus what happened, most urgent first."""

from __future__ import annotations

import typer
from rich.markup import escape

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console
from buildrunner.display import printable

app = typer.Typer(
    help="Gap analysis: tasks not done, files never created, open findings, failing gates.",
    no_args_is_help=True,
)

STYLE = {"critical": "red", "high": "yellow", "medium": "cyan", "low": "dim"}


@app.command("analyze")
def analyze_command(
    session: str | None = typer.Option(
        None, "--session", help="Analyse this build (default: newest)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """List the gaps between the plan and the build; exit 1 when there are any.

    \b
    Examples:
      br gaps analyze
      br gaps analyze --json
    """
    from buildrunner.cli.common import open_db, project_settings, project_store
    from buildrunner.gaps import analyze
    from buildrunner.parallel.sessions import get_session
    from buildrunner.quality.checks import check_quality, project_findings, session_workdir

    store = project_store()
    settings = project_settings(store)
    conn = open_db(store, write=False)
    row = get_session(conn, session)
    workdir = session_workdir(conn, row.id, store.root)
    scan = project_findings(workdir, settings)
    _, gates = check_quality(conn, workdir, settings, row.id, findings=scan)
    # open findings are listed one by one, so their gate is not listed again
    gaps = analyze(
        conn,
        row.id,
        workdir,
        security_findings=scan[0],
        gates=[gate for gate in gates if gate.gate != "security"],
    )
    if json_output:
        emit_json({"session_id": row.id, "plan": row.name, "gaps": [gap.to_dict() for gap in gaps]})
    else:
        if not gaps:
            err_console.print(
                f"[green]no gaps[/green]: session {row.id} did everything its plan asked"
            )
        for number, gap in enumerate(gaps, 1):
            colour = STYLE[gap.priority]
            err_console.print(
                f"{number:>3}. [{colour}]{gap.priority:<8}[/{colour}] {gap.kind:<13} "
                f"{_shown(gap.subject)}: {_shown(gap.detail)}"
            )
    if gaps:
        raise typer.Exit(1)


def _shown(text: str) -> str:
    """Text from the plan or the build, safe for the terminal and for Rich markup."""
    return escape(printable(text, one_line=True))
