"""Running the gates for a project: the composition `br quality check` and `br gaps` share."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from buildrunner.config import Settings
from buildrunner.quality.gates import GateContext, GateResult, latest_session_id, run_gates


def session_workdir(conn: sqlite3.Connection, session_id: str | None, default: Path) -> Path:
    """Where a session's files are: its directory, or (worktree merged and removed) the repo's."""
    if session_id is None:
        return default
    from buildrunner.parallel.sessions import get_session

    row = get_session(conn, session_id)
    workdir = Path(row.workdir) if row.workdir else default
    tree = row.metadata.get("worktree")
    if not workdir.is_dir() and tree:
        workdir = Path(tree["repo"]) / tree.get("subdir", "")
    return workdir


def project_findings(root: Path, settings: Settings) -> tuple[list[dict[str, Any]], int]:
    """Security findings not in the baseline (masked dicts), and how many the baseline accepted."""
    from buildrunner.security.baseline import filter_new, load_baseline
    from buildrunner.security.scanner import scan_paths

    report = scan_paths([root], root=root, settings=settings.security)
    new, baselined = filter_new(report.findings, load_baseline(root / settings.security.baseline))
    return [finding.to_dict() for finding in new], baselined


def check_quality(
    conn: sqlite3.Connection,
    root: Path,
    settings: Settings,
    session_id: str | None = None,
    findings: tuple[list[dict[str, Any]], int] | None = None,
) -> tuple[str | None, list[GateResult]]:
    """(the judged session, every gate's result); `findings` reuses a scan already made."""
    session = session_id or latest_session_id(conn)

    def scan(path: Path, config: Settings) -> tuple[int, int]:
        new, baselined = findings if findings is not None else project_findings(path, config)
        return len(new), baselined

    context = GateContext(conn=conn, root=root, settings=settings, session_id=session, scan=scan)
    return session, run_gates(context)
