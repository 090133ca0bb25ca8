"""The build report: one self-contained HTML file for one session (`br report`, `br run --report`).

Everything is inline (CSS, a small script, the Gantt chart as SVG), so the file opens from a CI
artifact with no network. Templates are Jinja2 with HTML autoescaping; every value the template
prints also goes through the secret masker (the environment's `finalize`), on top of the masking
of each field when the session is read, so no raw secret can reach the file.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from buildrunner import __version__
from buildrunner.security.masking import mask_text
from buildrunner.store.db import iso_utc
from buildrunner.telemetry.report.gantt import format_seconds
from buildrunner.telemetry.report.view import ReportView, build_view
from buildrunner.telemetry.session_reader import load_timeline

LOG_BUDGET_BYTES = 250_000  # log excerpts of all attempts together


@dataclass(frozen=True)
class ReportResult:
    """What was written."""

    path: Path
    session_id: str
    size_bytes: int
    tasks: int
    attempts: int
    cost_usd: float
    critical_path_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "session_id": self.session_id,
            "size_bytes": self.size_bytes,
            "tasks": self.tasks,
            "attempts": self.attempts,
            "cost_usd": round(self.cost_usd, 6),
            "critical_path_s": self.critical_path_s,
        }


def render_report(
    conn: sqlite3.Connection,
    session_id: str,
    *,
    logs_root: Path | None = None,
    clock: Callable[[], float] = time.time,
    log_budget_bytes: int = LOG_BUDGET_BYTES,
) -> tuple[str, ReportView]:
    """The report's HTML and the numbers it shows; raises SessionNotFound."""
    timeline = load_timeline(conn, session_id, clock=clock)
    view = build_view(
        timeline, logs_root=logs_root, generated_at=clock(), max_log_bytes=log_budget_bytes
    )
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            view=view,
            session=timeline.session,
            version=__version__,
            css=_asset("report.css"),
            js=_asset("report.js"),
        )
    )
    return html, view


def write_report(
    conn: sqlite3.Connection,
    session_id: str,
    path: Path,
    *,
    logs_root: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> ReportResult:
    """Write the report of `session_id` to `path` (replaced whole, never half written).

    `logs_root` is the folder of task logs (`Store.logs_dir`: `.buildrunner/logs`); without it
    the report has no log excerpts. Raises SessionNotFound, OSError.
    """
    html, view = render_report(conn, session_id, logs_root=logs_root, clock=clock)
    data = html.encode("utf-8")
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return ReportResult(
        path,
        session_id,
        len(data),
        len(view.tasks),
        view.attempts,
        view.cost_usd,
        view.critical.length_s,
    )


@functools.cache
def _environment() -> Environment:
    """The Jinja2 environment (built once: it compiles and caches the templates)."""
    environment = Environment(
        loader=PackageLoader("buildrunner.telemetry.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        finalize=_masked,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        money=_money,
        seconds=format_seconds,
        when=_when,
        percent=_percent,
        number=_number,
        plural=_plural,
    )
    return environment


@functools.cache
def _asset(name: str) -> Markup:
    """A stylesheet or script inlined as it is (read as data, never as a template)."""
    return Markup(resources.files(__name__).joinpath("templates", name).read_text("utf-8"))


def _masked(value: Any) -> Any:
    """Every printed string goes through the masker (already-safe markup is the template's)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _mask_cached(value)
    return value


@functools.lru_cache(maxsize=8192)
def _mask_cached(text: str) -> str:
    """A report repeats its words (statuses, kinds, workers, models): each is masked once."""
    return mask_text(text)


def _money(value: float | None) -> str:
    if not value:
        return "$0"
    return f"${value:,.4f}" if value >= 0.0001 else f"${value:.6f}"


def _when(ts: float | None) -> str:
    return iso_utc(ts).replace("T", " ").replace("Z", " UTC") if ts else "-"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"
