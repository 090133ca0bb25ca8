"""`br report [SESSION] [-o FILE]`: one self-contained HTML page about a build.

The page (summary, Gantt chart by worker with the critical path, cost by task and model, model
ladders, checks, security findings, alerts, log excerpts) is made by
`buildrunner.telemetry.report.write_report`; this module finds the session and says where the
file went.
"""

from __future__ import annotations

from pathlib import Path

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail


def report_command(
    session: str | None = typer.Argument(
        None, help="Session id, id prefix or name (default: the newest).", show_default=False
    ),
    output: Path = typer.Option(
        Path("report.html"), "--output", "-o", help="Where to write the HTML file."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write a build's report: one HTML file that opens anywhere, with no network.

    \b
    Examples:
      br report
      br report -o build-report.html
    """
    from buildrunner.cli.common import open_db, project_store
    from buildrunner.parallel.sessions import get_session
    from buildrunner.telemetry.report import write_report

    if output.is_dir():
        fail(f"{output} is a directory (give a file name, e.g. {output / 'report.html'})")
    if not output.parent.exists():
        fail(f"folder {output.parent} does not exist")
    store = project_store()
    conn = open_db(store)
    try:
        session_id = get_session(conn, session).id
        result = write_report(conn, session_id, output, logs_root=store.logs_dir)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    finally:
        conn.close()
    if json_output:
        emit_json(result.to_dict())
        return
    tasks = f"{result.tasks} task" + ("" if result.tasks == 1 else "s")
    err_console.print(
        f"wrote {output} ({tasks}, {result.size_bytes / 1024:.0f} KiB) for session "
        f"{session_id}: open it in a browser"
    )
