"""Rich renderings of telemetry data for the CLI (computing stays in the other modules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

LEVEL_STYLES = {"info": "cyan", "warning": "yellow", "error": "red", "critical": "bold red"}


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any, suffix: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value:,}{suffix}"


def _rate_style(rate: float | None) -> str:
    if rate is None:
        return "dim"
    return "green" if rate >= 80 else "yellow" if rate >= 50 else "red"


def render_summary(data: dict[str, Any]) -> Group:
    window = data["window"]
    head = Text(
        f"Telemetry over the last {window['hours']:g} h "
        f"({_when(window['since'])} .. {_when(window['until'])} UTC)",
        style="bold",
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    rate = data["task_success_rate"]
    table.add_row("events", _num(data["events"]))
    table.add_row(
        "task attempts",
        f"{data['task_attempts']:,} ({data['tasks_succeeded']:,} ok, "
        f"{data['tasks_failed']:,} failed, {data['tasks_retried']:,} retried, "
        f"{data['tasks_skipped']:,} skipped)",
    )
    table.add_row("task success rate", Text(_num(rate, " %"), style=_rate_style(rate)))
    latency = data["task_latency"]
    table.add_row(
        "task duration p50/p95/p99",
        " / ".join(_num(latency[key], " ms") for key in ("p50_ms", "p95_ms", "p99_ms")),
    )
    table.add_row("model calls", f"{data['model_calls']:,} ({data['model_calls_failed']:,} failed)")
    model = data["model_latency"]
    table.add_row(
        "model latency p50/p95/p99",
        " / ".join(_num(model[key], " ms") for key in ("p50_ms", "p95_ms", "p99_ms")),
    )
    table.add_row("tokens in / out", f"{data['input_tokens']:,} / {data['output_tokens']:,}")
    table.add_row("cost", f"${data['cost_usd']:,.4f}")
    cache = data.get("cache") or {}
    if cache.get("hits"):
        table.add_row(
            "task cache",
            f"{cache['hits']:,} hits saved ${float(cache['saved_usd']):,.4f}"
            f" and {cache['saved_s']:,.1f} s",
        )
    table.add_row("error rate", _num(data["error_rate"], " %"))
    table.add_row("security violations", _num(data["security_violations"]))
    table.add_row("alerts firing", _num(data.get("alerts_firing", 0)))
    parts: list[Any] = [head, table]
    if data["errors"]:
        errors = Table(title="errors by type", title_justify="left")
        errors.add_column("type")
        errors.add_column("count", justify="right")
        for name, count in data["errors"].items():
            errors.add_row(name, f"{count:,}")
        parts.append(errors)
    if data["groups"]:
        groups = Table(title=f"by {data['group_by']}", title_justify="left")
        for column in ("key", "events", "attempts", "success %", "p95 ms", "calls", "cost $"):
            groups.add_column(column, justify="left" if column == "key" else "right")
        for group in data["groups"]:
            groups.add_row(
                str(group["key"] or "-"),
                _num(group["events"]),
                _num(group["task_attempts"]),
                _num(group["task_success_rate"]),
                _num(group["task_latency"]["p95_ms"]),
                _num(group["model_calls"]),
                f"{group['cost_usd']:.4f}",
            )
        parts.append(groups)
    return Group(*parts)


def render_events(rows: list[dict[str, Any]]) -> Table | Text:
    if not rows:
        return Text("no events", style="dim")
    table = Table()
    for column in ("time (UTC)", "type"):  # never broken over lines, however narrow
        table.add_column(column, no_wrap=True)
    for column in ("session", "task"):  # ids: folded rather than cut
        table.add_column(column, overflow="fold")
    table.add_column("details")
    common = {
        "type",
        "event_id",
        "ts",
        "time_utc",
        "schema_version",
        "session_id",
        "task_id",
        "level",
    }
    for row in rows:
        details = ", ".join(
            f"{k}={v}" for k, v in row.items() if k not in common and v not in (None, "", 0, False)
        )
        table.add_row(
            _when(row["ts"]),
            Text(row["type"], style=LEVEL_STYLES.get(row["level"], "")),
            row["session_id"] or "-",
            row["task_id"] or "-",
            details[:120],
        )
    return table


def render_alerts(alerts: list[dict[str, Any]], changes: list[dict[str, Any]]) -> Group:
    parts: list[Any] = []
    for change in changes:
        parts.append(
            Text(
                f"{change['status']}: {change['threshold']} ({change['level']}) "
                f"{change['message']}",
                style=LEVEL_STYLES.get(change["level"], ""),
            )
        )
    if not alerts:
        parts.append(Text("no alerts", style="dim"))
        return Group(*parts)
    table = Table()
    for column in ("id", "threshold", "level", "status", "value", "since", "message", "delivered"):
        table.add_column(column)
    for alert in alerts:
        table.add_row(
            str(alert["id"]),
            alert["threshold"],
            Text(alert["level"], style=LEVEL_STYLES.get(alert["level"], "")),
            alert["status"],
            _num(alert["value"], digits=3),
            _when(alert["fired_at"] or alert["pending_since"]),
            alert["message"],
            "yes" if alert["delivered"] else (alert["delivery_error"] or "-"),
        )
    parts.append(table)
    return Group(*parts)


def render_thresholds(thresholds: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("name", "rule", "level", "for", "min samples"):
        table.add_column(column)
    for t in thresholds:
        table.add_row(
            t["name"],
            f"{t['metric']} {t['op']} {t['value']:g}{t['unit']}",
            Text(t["level"], style=LEVEL_STYLES.get(t["level"], "")),
            f"{t['for_s']:g}s",
            str(t["min_samples"] or "-"),
        )
    return table


def render_performance(data: dict[str, Any]) -> Group:
    head = Text(
        f"Task runs started in the window: {data['attempts']:,} "
        f"({data['succeeded']:,} ok, {data['failed']:,} failed, "
        f"{data['running']:,} running)",
        style="bold",
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    duration = data["duration_s"]
    table.add_row(
        "duration avg/p50/p95/max",
        " / ".join(_num(duration[key], " s", 2) for key in ("avg", "p50", "p95", "max")),
    )
    table.add_row("throughput (busy span)", _num(data["throughput_per_min"], " tasks/min", 2))
    table.add_row("throughput (window)", _num(data["window_throughput_per_min"], " tasks/min", 3))
    table.add_row("CPU total", _num(data["cpu_s_total"], " s", 2))
    table.add_row(
        "CPU % avg/max", f"{_num(data['cpu_percent']['avg'])} / {_num(data['cpu_percent']['max'])}"
    )
    table.add_row(
        "peak memory avg/max",
        f"{_num(data['max_rss_mb']['avg'], ' MB')} / {_num(data['max_rss_mb']['max'], ' MB')}",
    )
    parts: list[Any] = [head, table]
    if data["slowest"]:
        slow = Table(title="slowest task runs", title_justify="left")
        for column in ("task", "attempt", "status", "duration s", "CPU s", "peak MB"):
            slow.add_column(column)
        for timing in data["slowest"]:
            slow.add_row(
                timing["task_id"],
                str(timing["attempt"]),
                timing["status"],
                _num(timing["duration_s"], digits=2),
                _num(timing["cpu_s"], digits=2),
                _num(timing["max_rss_mb"]),
            )
        parts.append(slow)
    return Group(*parts)
