"""Shared CLI plumbing: where output goes, JSON printing, the project store and settings.

Machine output (`--json`) goes to stdout as one JSON document; human text goes to stderr.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import UsageError as UsageError
from buildrunner.store.db import Store, open_store

if TYPE_CHECKING:  # pydantic models cost ~0.1 s to import: only commands that read settings pay
    from buildrunner.config import Settings

# Human output: stderr so `--json` stdout stays clean; highlight off so numbers keep their text.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False)

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")


def fail(message: str) -> NoReturn:
    """Stop with a one-line error and exit 2."""
    raise UsageError(message)


def emit_json(data: Any) -> None:
    """Print machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def project_store() -> Store:
    """The store of the project around the current directory."""
    return open_store()


def project_settings(store: Store | None = None) -> Settings:
    """Validated settings of the current project."""
    from buildrunner.config import load_settings

    return load_settings((store or project_store()).root)


def open_db(store: Store | None = None, *, write: bool = True) -> sqlite3.Connection:
    """Open the project database with the configured busy timeout.

    `write=False` for commands that only read: nothing is created (no `.buildrunner/` in a fresh
    or read-only checkout) and the database is opened read-only.
    """
    store = store or project_store()
    settings = project_settings(store)
    if not write:
        return store.connect_readonly(busy_timeout_s=settings.store.busy_timeout_s)
    return store.connect(busy_timeout_s=settings.store.busy_timeout_s)
