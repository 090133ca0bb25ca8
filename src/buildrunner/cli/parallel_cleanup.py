"""`br parallel cleanup`, and the branches it keeps: finished sessions go with their rows, logs,
worktrees and refs, but a branch holding work the user's tree does not have stays (and is listed
by `br parallel status`) until `--force`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console

if TYPE_CHECKING:
    from buildrunner.build.cleanup import KeptBranch
    from buildrunner.store.db import Store


def repository(root: Path) -> Path | None:
    """The git repository around the project, if it is in one."""
    from buildrunner.build.git import IsolationError, repository_top

    try:
        return repository_top(root)
    except IsolationError:
        return None


def kept_branches(store: Store) -> list[KeptBranch]:
    """Branches, across sessions, holding work the project's tree does not have."""
    from buildrunner.build.cleanup import all_kept_branches

    repo = repository(store.root)
    return [] if repo is None else all_kept_branches(repo, store.data_dir)


def cleanup_command(
    older_than: float = typer.Option(
        7.0, "--older-than", min=0.0, help="Delete finished sessions older than this many days."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be deleted."),
    force: bool = typer.Option(
        False, "--force", help="Also delete branches that hold work your tree does not have."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete finished sessions (tasks, attempts, workers, logs, worktrees, refs); running ones
    are never touched, and a branch holding work not in your tree is kept unless --force.

    \b
    Examples:
      br parallel cleanup --older-than 7 --dry-run
      br parallel cleanup --json
    """
    from buildrunner.build.cleanup import CleanupResult, cleanup_project
    from buildrunner.cli.common import open_db, project_store
    from buildrunner.parallel.control import cleanup_sessions, finished_before
    from buildrunner.parallel.sessions import list_sessions

    store = project_store()
    conn = open_db(store)
    finished = [row.id for row in finished_before(conn, time.time() - older_than * 86400)]
    repo = repository(store.root)
    isolation = (
        CleanupResult(dry_run=dry_run)
        if repo is None
        else cleanup_project(
            repo,
            store.data_dir,
            finished,
            {row.id for row in list_sessions(conn) if row.id not in finished},
            force=force,
            dry_run=dry_run,
        )
    )
    result = cleanup_sessions(conn, store, older_than_days=older_than, dry_run=dry_run)
    if json_output:
        emit_json(result.to_json() | {"isolation": isolation.to_json()})
        return
    verb = "would delete" if dry_run else "deleted"
    for item in result.sessions:
        err_console.print(f"{verb} {item['id']} {item['name']} ({item['status']})")
    err_console.print(f"{verb} {len(result.sessions)} session(s) older than {older_than:g} days")
    if isolation.worktrees_removed or isolation.branches_deleted:
        err_console.print(
            f"{'would remove' if dry_run else 'removed'} "
            f"{len(isolation.worktrees_removed)} worktree(s) and "
            f"{len(isolation.branches_deleted)} branch(es)"
        )
    if isolation.kept:
        from buildrunner.parallel.dashboard import kept_branches_table

        err_console.print(
            kept_branches_table([item.to_json() for item in isolation.kept]), soft_wrap=False
        )
        err_console.print(
            "these branches hold work your tree does not have: merge what you "
            "want, then delete them with --force"
        )
