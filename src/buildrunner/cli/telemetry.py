"""`br telemetry ...`: events, metrics, alerts, performance and exports from the store.

Every command only reads the project database (except `prune`, and `alerts --check`, which
records alert state), so they work from another terminal while a build runs. The work is done
by `buildrunner.telemetry.*`; this module parses options and renders (Rich or `--json`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail

app = typer.Typer(
    help="Events, metrics, alerts, performance and exports from the store.", no_args_is_help=True
)

LEVELS = ("info", "warning", "error", "critical")
GROUPS = ("model", "session", "kind")
HOURS_OPTION = typer.Option(
    24.0, "--hours", min=0.001, max=876_000.0, help="Window: the last N hours (at most 100 years)."
)


@app.command("summary")
def summary_command(
    hours: float = HOURS_OPTION,
    by: str | None = typer.Option(None, "--by", help="Also group by: model, session or kind."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Success rate, latency percentiles, cost, tokens and errors over the last N hours.

    \b
    Examples:
      br telemetry summary
      br telemetry summary --hours 2 --by model --json
    """
    from buildrunner.cli.common import open_db
    from buildrunner.telemetry.metrics import summarize
    from buildrunner.telemetry.queries import cache_savings, firing_alerts_count

    if by is not None and by not in GROUPS:
        fail(f"--by must be one of {', '.join(GROUPS)} (got '{by}')")
    now = time.time()
    conn = open_db(write=False)
    summary = summarize(conn, now - hours * 3600, now + 1e-6, by)  # type: ignore[arg-type]
    data = summary.to_dict()
    data["alerts_firing"] = firing_alerts_count(conn)
    data["cache"] = cache_savings(conn, now - hours * 3600, now + 1e-6)
    if json_output:
        emit_json(data)
        return
    from buildrunner.telemetry.render import render_summary

    err_console.print(render_summary(data))


@app.command("events")
def events_command(
    event_type: list[str] = typer.Option(
        [], "--type", "-t", help="Only this event type (repeatable)."
    ),
    session: str | None = typer.Option(None, "--session", "-s", help="Only this session id."),
    since: str | None = typer.Option(
        None, "--since", help="From this time: 2h, 30m, 7d, an ISO date/time or epoch seconds."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most N events (newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """The newest stored events, newest first.

    \b
    Examples:
      br telemetry events --limit 20
      br telemetry events --type task_failed --since 2h --json
    """
    from buildrunner.cli.common import open_db
    from buildrunner.telemetry.events import EVENT_TYPES
    from buildrunner.telemetry.exports import EventQuery, flat_event, iter_event_rows
    from buildrunner.telemetry.queries import stored_event_types

    conn = open_db(write=False)
    unknown = [name for name in event_type if name not in EVENT_TYPES]
    if unknown:
        stored = stored_event_types(conn, unknown)
        missing = [name for name in unknown if name not in stored]
        if missing:
            fail(f"unknown event type '{missing[0]}'; known: {', '.join(sorted(EVENT_TYPES))}")
    query = EventQuery(
        since=parse_since(since),
        types=event_type,
        session_id=session,
        limit=limit,
        newest_first=True,
    )
    rows = [flat_event(row) for row in iter_event_rows(conn, query)]
    if json_output:
        emit_json({"events": rows, "count": len(rows)})
        return
    from buildrunner.telemetry.render import render_events

    err_console.print(render_events(rows))


@app.command("alerts")
def alerts_command(
    level: str | None = typer.Option(
        None,
        "--level",
        "-l",
        help="Only alerts at this level or above (info|warning|error|critical).",
    ),
    show_all: bool = typer.Option(False, "--all", help="Include resolved alerts."),
    check: bool = typer.Option(
        False, "--check", help="Evaluate the thresholds now (fires, resolves and delivers)."
    ),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most N alerts (newest)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Active alerts (pending and firing); with --all also the resolved ones.

    \b
    Examples:
      br telemetry alerts
      br telemetry alerts --all --level error --json
    """
    from buildrunner.cli.common import open_db, project_settings, project_store
    from buildrunner.telemetry.queries import list_alerts

    if level is not None and level not in LEVELS:
        fail(f"--level must be one of {', '.join(LEVELS)} (got '{level}')")
    store = project_store()
    settings = project_settings(store)
    conn = open_db(store)
    changes: list[dict[str, Any]] = []
    if check:
        from buildrunner.telemetry.alerts import AlertEngine
        from buildrunner.telemetry.notifiers import notifiers_from_settings

        engine = AlertEngine(
            store.db_path,
            settings.telemetry,
            notifiers_from_settings(settings.telemetry),
            tick_s=None,
        )
        changes = [change.to_dict() for change in engine.evaluate()]
        engine.close()
    statuses = ("pending", "firing", "resolved") if show_all else ("pending", "firing")
    alerts = list_alerts(conn, statuses=statuses, min_level=level, limit=limit)
    if json_output:
        emit_json({"alerts": alerts, "count": len(alerts), "changes": changes})
        return
    from buildrunner.telemetry.render import render_alerts

    err_console.print(render_alerts(alerts, changes))


@app.command("thresholds")
def thresholds_command(json_output: bool = JSON_OPTION) -> None:
    """The alert thresholds in effect (built-ins with this project's overrides).

    \b
    Examples:
      br telemetry thresholds
      br telemetry thresholds --json
    """
    from dataclasses import asdict

    from buildrunner.cli.common import project_settings
    from buildrunner.telemetry.thresholds import thresholds_from_settings

    thresholds = [asdict(t) for t in thresholds_from_settings(project_settings().telemetry)]
    if json_output:
        emit_json({"thresholds": thresholds})
        return
    from buildrunner.telemetry.render import render_thresholds

    err_console.print(render_thresholds(thresholds))


@app.command("performance")
def performance_command(
    hours: float = HOURS_OPTION,
    slowest: int = typer.Option(10, "--slowest", min=0, help="List the N slowest task runs."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Task timing, throughput (tasks/min), CPU and memory of task processes.

    \b
    Examples:
      br telemetry performance --hours 24 --slowest 5
    """
    from buildrunner.cli.common import open_db
    from buildrunner.telemetry.performance import performance_report

    now = time.time()
    report = performance_report(
        open_db(write=False), now - hours * 3600, now + 1e-6, slowest=slowest
    )
    if json_output:
        emit_json(report.to_dict())
        return
    from buildrunner.telemetry.render import render_performance

    err_console.print(render_performance(report.to_dict()))


@app.command("export")
def export_command(
    file: Path = typer.Argument(..., help="Output file.", show_default=False),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="csv, jsonl or trace (default: from the suffix: .jsonl/.ndjson, .json for a trace,"
        " else csv).",
    ),
    since: str | None = typer.Option(
        None, "--since", help="From this time: 2h, 30m, 7d, an ISO date/time or epoch seconds."
    ),
    event_type: list[str] = typer.Option([], "--type", "-t", help="Only this type (repeatable)."),
    session: str | None = typer.Option(
        None,
        "--session",
        "-s",
        help="Only this session id (a trace: this session, id, prefix or name; default: newest).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Write stored events to CSV (opens in a spreadsheet as is) or JSON Lines, or a session as a
    Chrome trace (Perfetto, chrome://tracing).

    \b
    Examples:
      br telemetry export events.csv
      br telemetry export events.jsonl --since 7d
      br telemetry export build.json --format trace
    """
    from buildrunner.cli.common import open_db

    chosen = fmt or _format_from_suffix(file)
    if chosen not in EXPORT_FORMATS:
        fail(f"--format must be one of {', '.join(EXPORT_FORMATS)} (got '{chosen}')")
    if file.is_dir():
        fail(f"{file} is a directory")
    if not file.parent.exists():
        fail(f"folder {file.parent} does not exist")
    conn = open_db(write=False)
    try:
        if chosen == "trace":
            if since is not None or event_type:
                fail("--since and --type do not apply to a trace (it is one whole session)")
            result = _export_trace(conn, file, session)
        else:
            from buildrunner.telemetry.exports import EventQuery, export_events

            query = EventQuery(since=parse_since(since), types=event_type, session_id=session)
            count = export_events(conn, file, chosen, query)  # type: ignore[arg-type]
            result = {"path": str(file), "format": chosen, "events": count}
    except OSError as exc:
        fail(f"cannot write {file}: {exc.strerror or exc}")
    if json_output:
        emit_json(result)
    elif chosen == "trace":
        err_console.print(
            f"wrote {result['attempts']} task attempts of session "
            f"{result['session_id']} to {file} (open it in ui.perfetto.dev)"
        )
    else:
        err_console.print(f"wrote {result['events']} events to {file} ({chosen})")


EXPORT_FORMATS = ("csv", "jsonl", "trace")


def _format_from_suffix(file: Path) -> str:
    suffix = file.suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "trace"}.get(suffix, "csv")


def _export_trace(conn: Any, file: Path, session: str | None) -> dict[str, Any]:
    from buildrunner.parallel.sessions import get_session
    from buildrunner.telemetry.session_reader import load_timeline
    from buildrunner.telemetry.trace import write_trace

    timeline = load_timeline(conn, get_session(conn, session).id)
    count = write_trace(timeline, file)
    return {
        "path": str(file),
        "format": "trace",
        "session_id": timeline.session.session_id,
        "trace_events": count,
        "attempts": len(timeline.attempts),
    }


@app.command("prune")
def prune_command(
    days: float | None = typer.Option(
        None, "--days", min=0.0, help="Keep this many days (default: telemetry.retention_days)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete events and resolved alerts older than the retention period.

    \b
    Examples:
      br telemetry prune --days 30 --dry-run
    """
    from buildrunner.cli.common import open_db, project_settings, project_store
    from buildrunner.telemetry.retention import prune

    store = project_store()
    keep = days if days is not None else project_settings(store).telemetry.retention_days
    result = prune(open_db(store), keep, time.time(), dry_run=dry_run)
    if json_output:
        emit_json(result.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    err_console.print(
        f"{verb} {result.events} events and {result.alerts} resolved alerts older than "
        f"{keep:g} days"
    )


@app.command("serve")
def serve_command(
    port: int = typer.Option(9464, "--port", min=0, max=65535, help="TCP port (0: any free)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    window_s: float | None = typer.Option(
        None,
        "--window",
        min=1.0,
        help="Seconds the gauges look back (default: telemetry.window_s).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Serve Prometheus metrics at /metrics until Ctrl-C (needs buildrunner[prometheus]).

    \b
    Examples:
      br telemetry serve --port 9464
    """
    from buildrunner.cli.common import project_settings, project_store

    try:
        from buildrunner.telemetry.prometheus import serve
    except ImportError:
        fail("serving metrics needs prometheus-client: pip install 'buildrunner[prometheus]'")
    store = project_store()
    store.connect().close()  # create and migrate the database before the first scrape
    window = window_s or project_settings(store).telemetry.window_s
    try:
        server, _thread = serve(store.db_path, host, port, window)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    url = f"http://{host}:{server.server_port}/metrics"
    if json_output:
        emit_json({"url": url, "window_s": window})
    err_console.print(f"serving {url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
        err_console.print("stopped")


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """`2h`, `30m`, `7d`, `45s`, an ISO 8601 date/time (UTC unless it has an offset) or epoch."""
    if text is None:
        return None
    from datetime import UTC, datetime

    now = time.time() if now is None else now
    value = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if len(value) > 1 and value[-1] in units:
        try:
            amount = float(value[:-1])
        except ValueError:
            amount = -1.0
        if amount >= 0:
            return now - amount * units[value[-1]]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since: cannot read '{text}' (use 2h, 30m, 7d, an ISO date/time or epoch seconds)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
