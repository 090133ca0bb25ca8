"""Shared fixtures: a migrated database file in tmp_path, helpers to write events and rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry.collector import INSERT_SQL, event_row
from buildrunner.telemetry.events import Event


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "buildrunner.db"
    connect(path).close()
    yield path


def write_events(db_path: Path, events: Iterable[Event]) -> None:
    """Store events the way the collector does (same row builder, one transaction)."""
    conn = connect(db_path)
    try:
        conn.execute("BEGIN")
        conn.executemany(INSERT_SQL, [event_row(event) for event in events])
        conn.execute("COMMIT")
    finally:
        conn.close()


def query(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    conn = connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
