"""The cache's rows in the project store: a manifest per key, and what br left at each output.

`task_cache` is this project's index of entries (the manifest as JSON, its task, cost, last use
and hits): `br cache ls|show|why` read it without touching the cache folder. `cache_outputs`
remembers the content br last stored or restored at each output path, which is what a restore
may overwrite (migration 0006_task_cache.sql).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from buildrunner.build.cache_entry import CacheEntry
from buildrunner.errors import BuildRunnerError
from buildrunner.store.db import transaction

_COLUMNS = "key, manifest_json, last_used_at, hits"


class CacheError(BuildRunnerError):
    """A cache entry that was asked for does not exist or is ambiguous."""


class CacheIndex:
    """Entries and known outputs of one project store."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> CacheEntry | None:
        """The entry of `key`, None when absent; ValueError when its row is unreadable."""
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM task_cache WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else _entry(row)

    def has(self, key: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM task_cache WHERE key = ?", (key,)).fetchone()
            is not None
        )

    def put(self, entry: CacheEntry, manifest: dict[str, Any], *, replace: bool = True) -> None:
        """Insert an entry (a store replaces; an entry read from a shared folder never does)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with transaction(self.conn):
            self.conn.execute(
                f"{verb} INTO task_cache(key, task_id, plan_name, manifest_json, size_bytes,"
                " cost_micro_usd, duration_s, session_id, created_at, last_used_at, hits)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    entry.key,
                    entry.task_id,
                    entry.plan_name,
                    json.dumps(manifest, sort_keys=True),
                    entry.size_bytes,
                    int(entry.cost_usd * 1_000_000),
                    entry.duration_s,
                    entry.session_id,
                    entry.created_at,
                    entry.last_used_at or entry.created_at,
                ),
            )

    def remove(self, keys: Iterable[str]) -> None:
        with transaction(self.conn):
            self.conn.executemany("DELETE FROM task_cache WHERE key = ?", [(key,) for key in keys])

    def last_entry(self, task_id: str, plan_name: str | None = None) -> CacheEntry | None:
        """The newest readable entry of a task (of the same plan first)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM task_cache WHERE task_id = ?"
            " ORDER BY (plan_name IS ?) DESC, created_at DESC LIMIT 20",
            (task_id, plan_name),
        )
        return next((entry for row in rows if (entry := _readable(row)) is not None), None)

    def entries(self, task_id: str | None = None) -> list[CacheEntry]:
        """Entries, oldest first (optionally of one task); unreadable rows are skipped."""
        where = " WHERE task_id = ?" if task_id else ""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM task_cache{where} ORDER BY created_at, key",
            (task_id,) if task_id else (),
        )
        return [entry for row in rows if (entry := _readable(row)) is not None]

    def find(self, prefix: str) -> CacheEntry:
        """The entry whose key starts with `prefix` (at least 4 hex digits)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 4 or any(char not in "0123456789abcdef" for char in prefix):
            raise CacheError(f"'{prefix}' is not a cache key (give at least 4 hex digits)")
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM task_cache WHERE key >= ? AND key < ? LIMIT 2",
            (prefix, prefix + "g"),
        ).fetchall()
        if len(rows) > 1:
            raise CacheError(f"cache key prefix '{prefix}' is ambiguous; give more digits")
        entry = _readable(rows[0]) if rows else None
        if entry is None:
            raise CacheError(f"no cache entry with key {prefix}")
        return entry

    def known_outputs(self, paths: Sequence[str]) -> dict[str, str]:
        """What br last left at these absolute paths (path -> digest), where it knows."""
        found: dict[str, str] = {}
        for start in range(0, len(paths), 500):
            chunk = list(paths[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(
                self.conn.execute(
                    f"SELECT path, sha256 FROM cache_outputs WHERE path IN ({marks})", chunk
                ).fetchall()
            )
        return found

    def record_outputs(
        self,
        task_id: str,
        left: Iterable[tuple[str, str]],
        deleted: Iterable[str],
        now: float,
        *,
        used: str | None = None,
    ) -> None:
        """Remember what br left at each output path (a later restore may overwrite only that).

        `used`: the key of the entry that was restored (its last use and hits move on too).
        """
        rows = [(path, sha, task_id, now) for path, sha in left]
        gone = [(path,) for path in deleted]
        if not rows and not gone and used is None:
            return
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT OR REPLACE INTO cache_outputs(path, sha256, task_id, recorded_at)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
            self.conn.executemany("DELETE FROM cache_outputs WHERE path = ?", gone)
            if used is not None:
                self.conn.execute(
                    "UPDATE task_cache SET last_used_at = ?, hits = hits + 1 WHERE key = ?",
                    (now, used),
                )


def _entry(row: Any) -> CacheEntry:
    return CacheEntry.from_manifest(
        json.loads(row[1]), key=row[0], last_used_at=row[2], hits=row[3]
    )


def _readable(row: Any) -> CacheEntry | None:
    try:
        return _entry(row)
    except ValueError:
        return None
