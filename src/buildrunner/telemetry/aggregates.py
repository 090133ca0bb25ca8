"""Where metric sums come from: per-minute rollups plus the raw events at the window's edges.

Migration 0002 keeps `event_rollups` (one row per minute, type, model, kind, session and
error type) exact with insert/delete triggers on `events`. A window `[since, until)` is read as
the whole minutes inside it from the rollups and the partial minutes at both ends from the raw
events, so a summary over a million events adds up a few thousand rows. Latency percentiles
need the individual durations: they come from two partial indexes ordered by duration, where
the k-th smallest value in a window is one short index walk (`LIMIT 2 OFFSET k`).
A database without these objects (an older schema) falls back to raw queries.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

# Partial indexes, ordered by duration. The WHERE text must repeat the index's own WHERE
# (literally) for SQLite to accept the index.
PERCENTILE_INDEXES: dict[str, tuple[str, str]] = {
    "task": (
        "events_task_durations",
        "type IN ('task_completed', 'task_failed') AND duration_ms IS NOT NULL",
    ),
    "model": (
        "events_model_latencies",
        "type IN ('model_call_completed', 'model_call_failed') AND duration_ms IS NOT NULL",
    ),
}
ROLLUP_KEYS = {"model": "model", "session_id": "session_id", "kind": "kind"}


class Aggregate(NamedTuple):
    """Sums of one (group key, type, error type) cell."""

    key: str | None
    type: str
    error_type: str | None
    events: int
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    durations: int
    duration_sum: float


def schema_objects(conn: sqlite3.Connection) -> set[str]:
    """Names of the tables and indexes present (to pick the fast path)."""
    return {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")
    }


def aggregates(
    conn: sqlite3.Connection,
    since: float,
    until: float,
    column: str | None,
    objects: set[str] | None = None,
) -> Iterator[Aggregate]:
    """Per (key, type, error_type) sums over `since <= ts < until`; key from `column`."""
    objects = schema_objects(conn) if objects is None else objects
    first_minute = math.ceil(since / 60)
    end_minute = math.floor(until / 60)
    if "event_rollups" not in objects or end_minute - first_minute < 2:
        yield from _raw(conn, since, until, column)
        return
    yield from _raw(conn, since, first_minute * 60.0, column)
    yield from _rollups(conn, first_minute, end_minute, column)
    yield from _raw(conn, end_minute * 60.0, until, column)


def _raw(
    conn: sqlite3.Connection, since: float, until: float, column: str | None
) -> Iterator[Aggregate]:
    if until <= since:
        return
    key_sql = ROLLUP_KEYS[column] if column else "NULL"  # the column is SQL: allow-listed
    cursor = conn.cursor()
    cursor.row_factory = None
    for row in cursor.execute(
        f"SELECT {key_sql}, type, error_type, COUNT(*), SUM(cost_micro_usd), SUM(input_tokens),"
        f" SUM(output_tokens), COUNT(duration_ms), SUM(duration_ms) FROM events"
        f" WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3",
        (since, until),
    ):
        yield Aggregate(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4] or 0,
            row[5] or 0,
            row[6] or 0,
            row[7],
            row[8] or 0.0,
        )


def _rollups(
    conn: sqlite3.Connection, first_minute: int, end_minute: int, column: str | None
) -> Iterator[Aggregate]:
    key_sql = ROLLUP_KEYS[column] if column else "''"
    cursor = conn.cursor()
    cursor.row_factory = None
    for row in cursor.execute(
        f"SELECT {key_sql}, type, error_type, SUM(events), SUM(cost_micro_usd),"
        f" SUM(input_tokens), SUM(output_tokens), SUM(durations), SUM(duration_sum)"
        f" FROM event_rollups WHERE minute >= ? AND minute < ? GROUP BY 1, 2, 3"
        f" HAVING SUM(events) > 0",
        (first_minute, end_minute),
    ):
        yield Aggregate(
            row[0] or None, row[1], row[2] or None, row[3], row[4], row[5], row[6], row[7], row[8]
        )


def has_percentile_indexes(objects: set[str]) -> bool:
    return all(name in objects for name, _ in PERCENTILE_INDEXES.values())


def duration_at_rank(
    conn: sqlite3.Connection,
    kind: str,
    since: float,
    until: float,
    count: int,
    fraction: float,
) -> float | None:
    """The `fraction` quantile (linear interpolation) of `count` durations in the window.

    Walks the partial index from the nearer end; None if the index holds fewer rows than
    `count` says (the caller then falls back to reading the values).
    """
    index, where = PERCENTILE_INDEXES[kind]
    base = (
        f"SELECT duration_ms FROM events INDEXED BY {index}"
        f" WHERE {where} AND ts >= ? AND ts < ? ORDER BY duration_ms"
    )
    position = (count - 1) * fraction
    low = math.floor(position)
    if low < count / 2:
        pair = [row[0] for row in conn.execute(base + " LIMIT 2 OFFSET ?", (since, until, low))]
        wanted = 1 if low == count - 1 else 2
    else:
        offset = count - 2 - low
        pair = [
            row[0]
            for row in conn.execute(base + " DESC LIMIT 2 OFFSET ?", (since, until, max(offset, 0)))
        ]
        pair.reverse()
        if offset < 0:  # the maximum itself
            pair = pair[-1:]
        wanted = 1 if offset < 0 else 2
    if len(pair) < wanted:
        return None
    if len(pair) == 1:
        return float(pair[0])
    return float(pair[0] + (pair[1] - pair[0]) * (position - low))
