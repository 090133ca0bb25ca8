"""Retention: delete events and resolved alerts older than `telemetry.retention_days`.

Deletes run in chunks, each its own short transaction, so a large prune never holds the write
lock for long while a build is writing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from buildrunner.store.db import transaction

CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class PruneResult:
    cutoff: float
    events: int
    alerts: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff,
            "events": self.events,
            "alerts": self.alerts,
            "dry_run": self.dry_run,
        }


def prune(
    conn: sqlite3.Connection, retention_days: float, now: float, *, dry_run: bool = False
) -> PruneResult:
    """Delete events older than the cutoff and alerts resolved before it; count them."""
    cutoff = now - retention_days * 86400
    if dry_run:
        events = conn.execute("SELECT COUNT(*) FROM events WHERE ts < ?", (cutoff,)).fetchone()[0]
        alerts = conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE status = 'resolved' AND resolved_at < ?", (cutoff,)
        ).fetchone()[0]
        return PruneResult(cutoff, events, alerts, dry_run=True)
    events = _delete_in_chunks(
        conn,
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? LIMIT ?)",
        cutoff,
    )
    alerts = _delete_in_chunks(
        conn,
        "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE status = 'resolved'"
        " AND resolved_at < ? LIMIT ?)",
        cutoff,
    )
    with transaction(conn):  # rollup rows the delete trigger emptied
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "event_rollups" in tables:
            conn.execute("DELETE FROM event_rollups WHERE events <= 0")
    return PruneResult(cutoff, events, alerts)


def _delete_in_chunks(conn: sqlite3.Connection, sql: str, cutoff: float) -> int:
    total = 0
    while True:
        with transaction(conn):
            deleted = conn.execute(sql, (cutoff, CHUNK_ROWS)).rowcount
        total += deleted
        if deleted < CHUNK_ROWS:
            return total
