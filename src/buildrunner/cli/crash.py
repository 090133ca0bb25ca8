"""Crash reports: what `br` writes when a bug (not bad input) stops it.

The report goes to `.buildrunner/logs/crash-<time>.log` of the project (or the system's temporary
folder when the project has no `.buildrunner/` yet, or it cannot be written): version, platform,
the command line and the traceback, all masked for secrets, the way pre-commit's error handler
writes `pre-commit.log`. The user sees one line pointing to it; the exit code is 3.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

EXIT_BUG = 3


def crash_report_text(exc: BaseException, argv: Sequence[str], *, now: float) -> str:
    """The report's text: masked version, platform, argv and traceback."""
    from buildrunner import __version__
    from buildrunner.security.masking import mask_text

    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    lines = [
        "BuildRunner crash report (please attach it to a bug report; secrets are masked)",
        f"time: {stamp}",
        f"version: br {__version__}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"platform: {platform.platform()}",
        f"command: {' '.join(_quote(arg) for arg in argv)}",
        f"cwd: {os.getcwd() if os.path.isdir('.') else '?'}",
        "",
        trace,
    ]
    return mask_text("\n".join(lines))


def write_crash_report(
    exc: BaseException,
    argv: Sequence[str],
    *,
    logs_dir: Path | None,
    clock: Callable[[], float] = time.time,
) -> Path | None:
    """Write the report under `logs_dir` (else the temporary folder); its path, or None."""
    now = clock()
    try:
        text = crash_report_text(exc, argv, now=now)
    except Exception:  # the report must never hide the crash it reports
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{os.getpid()}.log"
    for folder in (logs_dir, Path(tempfile.gettempdir())):
        if folder is None:
            continue
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
                handle.write(text)
            return path
        except OSError:
            continue
    return None


def project_logs_dir() -> Path | None:
    """`.buildrunner/logs` of the current project when `.buildrunner/` already exists."""
    try:
        from buildrunner.store.db import find_project_root

        data_dir = find_project_root() / ".buildrunner"
        return data_dir / "logs" if data_dir.is_dir() else None
    except Exception:  # a crash report is written even when the project cannot be found
        return None


def _quote(arg: str) -> str:
    shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown if shown and not any(c in shown for c in " \t\n'\"") else repr(shown)


def report_bug(exc: BaseException, argv: Sequence[str] | None = None) -> int:
    """Write the report, print one line pointing to it on stderr; returns the exit code (3)."""
    from buildrunner.display import printable

    path = write_crash_report(
        exc, list(argv if argv is not None else sys.argv), logs_dir=project_logs_dir()
    )
    summary = printable(f"{type(exc).__name__}: {exc}", one_line=True)
    if len(summary) > 200:
        summary = summary[:197] + "..."
    try:
        from buildrunner.security.masking import mask_text

        summary = mask_text(summary)
    except Exception:  # masking failed: show the type only rather than risk a secret
        summary = type(exc).__name__
    where = f"crash report: {path}" if path else "no crash report could be written"
    sys.stderr.write(f"br: internal error (a bug in br): {summary}; {where}\n")
    return EXIT_BUG
