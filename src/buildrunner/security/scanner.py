"""Scanning files and texts for secrets and SQL injection; the library behind `br security scan`.

    report = scan_paths([Path(".")])            # walks, honours .gitignore, skips binaries
    for finding in report.findings: ...          # masked; `finding.to_dict()` for JSON

The per-file core lives in `filescan` (re-exported here); large scans fan out to worker processes
through `parallel_scan`, which builds on the same core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.security.filescan import (
    DEFAULT_MAX_FILE_BYTES,
    ProgressCallback,
    ScanOptions,
    ScanReport,
    content_skip_reason,
    read_candidate,
    scan_into,
    scan_sequential,
    scan_text,
    sql_scan,
    to_finding,
)
from buildrunner.security.masking import default_engine

if TYPE_CHECKING:
    from buildrunner.security.walk import Candidate

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "PARALLEL_MIN_FILES",
    "ProgressCallback",
    "ScanOptions",
    "ScanReport",
    "content_skip_reason",
    "read_candidate",
    "scan_candidates",
    "scan_files",
    "scan_into",
    "scan_paths",
    "scan_text",
    "sql_scan",
    "to_finding",
]

PARALLEL_MIN_FILES = 200


def scan_candidates(
    candidates: Iterable[Candidate],
    options: ScanOptions,
    *,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ScanReport:
    """Read and scan each candidate file (in worker processes, one per CPU, when there are many)."""
    candidates = list(candidates)
    jobs = options.jobs or min(os.cpu_count() or 1, 8)
    if jobs > 1 and len(candidates) >= PARALLEL_MIN_FILES:
        from buildrunner.security.parallel_scan import scan_in_processes

        default_engine()  # built once here, inherited by forked workers
        report = scan_in_processes(candidates, options, jobs, progress)
        if report is not None:
            return report
    return scan_sequential(candidates, options, progress=progress, clock=clock)


def scan_paths(
    paths: Sequence[Path | str],
    *,
    root: Path | None = None,
    secrets: bool | None = None,
    sql: bool | None = None,
    settings: Any = None,
    options: ScanOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ScanReport:
    """Scan files and directories (walking them, honouring .gitignore); paths in findings are
    relative to `root` (default: the current directory)."""
    from buildrunner.security.walk import iter_files

    root = (root or Path.cwd()).resolve()
    options = options or ScanOptions.from_settings(settings, secrets=secrets, sql=sql)
    targets = [Path(p) if Path(p).is_absolute() else root / p for p in paths] or [root]
    return scan_candidates(
        iter_files(targets, root, gitignore=options.gitignore), options, progress=progress
    )


def scan_files(
    root: Path,
    paths: Sequence[str],
    *,
    secrets: bool | None = None,
    sql: bool | None = None,
    settings: Any = None,
    options: ScanOptions | None = None,
) -> ScanReport:
    """Scan exactly these files (relative to `root`), no walking: e.g. the files a task changed."""
    from buildrunner.security.walk import Candidate, relative_to

    root = root.resolve()
    options = options or ScanOptions.from_settings(settings, secrets=secrets, sql=sql)
    candidates = [Candidate(root / p, relative_to((root / p).resolve(), root)) for p in paths]
    return scan_candidates(candidates, options)
