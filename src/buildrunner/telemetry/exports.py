"""Exports of stored events: CSV that a spreadsheet opens as is, and JSON Lines.

CSV choices (docs/TELEMETRY.md explains them): UTF-8 with a byte-order mark (Excel otherwise
reads UTF-8 as a legacy code page; LibreOffice and pandas accept the BOM), comma separated,
CRLF line ends (RFC 4180), a header row, times both as ISO 8601 UTC text and epoch seconds,
money in dollars, the remaining fields as one JSON column. Cells that start with = + - @ are
prefixed with an apostrophe so a spreadsheet never evaluates them as formulas.

JSONL: one JSON object per line, the event's fields flattened (payload merged in, never over a
common field), UTF-8; `event_from_flat(line)` rebuilds the typed event.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from buildrunner.store.db import iso_utc
from buildrunner.telemetry.events import Event, event_from_dict

ExportFormat = Literal["csv", "jsonl"]
CSV_COLUMNS = (
    "event_id",
    "type",
    "time_utc",
    "ts",
    "session_id",
    "task_id",
    "level",
    "model",
    "success",
    "duration_ms",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "error_type",
    "kind",
    "payload",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Names of the flat form's common fields; a payload field of the same name is renamed.
FLAT_COMMON = frozenset(
    {"type", "event_id", "ts", "time_utc", "schema_version", "session_id", "task_id", "level"}
)
_DERIVED = frozenset({"time_utc", "level"})  # computed from the event, never read back
_CLASHES: dict[tuple[str, str], str] = {
    ("alert_fired", "level"): "alert_level",
    ("alert_resolved", "level"): "alert_level",
    ("model_selected", "level"): "complexity",  # stored before the field was renamed
}
_RENAMED = {
    (event_type, flat): name
    for (event_type, name), flat in _CLASHES.items()
    if flat == "alert_level"
}


@dataclass(frozen=True)
class EventQuery:
    """Which events to read: a time range and optional type/session filters."""

    since: float | None = None
    until: float | None = None
    types: Sequence[str] = ()
    session_id: str | None = None
    limit: int | None = None
    newest_first: bool = False

    def sql(self) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            where.append("ts >= ?")
            params.append(self.since)
        if self.until is not None:
            where.append("ts < ?")
            params.append(self.until)
        if self.types:
            where.append(f"type IN ({','.join('?' * len(self.types))})")
            params.extend(self.types)
        if self.session_id is not None:
            where.append("session_id = ?")
            params.append(self.session_id)
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC" if self.newest_first else " ORDER BY ts, id"
        if self.limit is not None:
            sql += " LIMIT ?"
            params.append(self.limit)
        return sql, params


def iter_event_rows(conn: sqlite3.Connection, query: EventQuery) -> Iterator[sqlite3.Row]:
    sql, params = query.sql()
    yield from conn.execute(sql, params)


def flat_event(row: sqlite3.Row) -> dict[str, Any]:
    """One stored event as a flat dict: common fields, then the payload's fields.

    No payload field may overwrite a common one (above all `level`, the event's severity): an
    alert's own level is `alert_level`, an old model_selected's complexity (stored as `level`
    before the rename) is `complexity`, any other clash gets a `payload_` prefix.
    """
    data: dict[str, Any] = {
        "type": row["type"],
        "event_id": row["event_id"],
        "ts": row["ts"],
        "time_utc": iso_utc(row["ts"], millis=True),
        "schema_version": row["schema_version"],
        "session_id": row["session_id"],
        "task_id": row["task_id"],
        "level": row["level"],
    }
    for name, value in json.loads(row["payload"] or "{}").items():
        if name in FLAT_COMMON:
            name = _CLASHES.get((row["type"], name), f"payload_{name}")
        data.setdefault(name, value)
    return data


def event_from_flat(line: Mapping[str, Any]) -> Event:
    """Rebuild a typed event from a flat dict (a JSONL line): `flat_event` in reverse."""
    fields: dict[str, Any] = {}
    for name, value in line.items():
        if name in _DERIVED:
            continue
        original = _RENAMED.get((str(line.get("type")), name))
        if original is None and name.startswith("payload_") and name[8:] in FLAT_COMMON:
            original = name[8:]
        fields[original or name] = value
    return event_from_dict(fields)


def export_events(
    conn: sqlite3.Connection, path: Path, fmt: ExportFormat, query: EventQuery
) -> int:
    """Write the selected events to `path`; return how many were written."""
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    with path.open("w", encoding=encoding, newline="") as handle:
        if fmt == "csv":
            return write_csv(handle, iter_event_rows(conn, query))
        return write_jsonl(handle, iter_event_rows(conn, query))


def write_jsonl(handle: TextIO, rows: Iterator[sqlite3.Row]) -> int:
    count = 0
    for row in rows:
        handle.write(json.dumps(flat_event(row), ensure_ascii=False, separators=(",", ":")))
        handle.write("\n")
        count += 1
    return count


def write_csv(handle: TextIO, rows: Iterator[sqlite3.Row]) -> int:
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        cost = row["cost_micro_usd"]
        writer.writerow(
            [
                _cell(row["event_id"]),
                _cell(row["type"]),
                iso_utc(row["ts"], millis=True),
                repr(row["ts"]),
                _cell(row["session_id"]),
                _cell(row["task_id"]),
                _cell(row["level"]),
                _cell(row["model"]),
                _number(row["success"]),
                _number(row["duration_ms"]),
                "" if cost is None else f"{cost / 1_000_000:.6f}",
                _number(row["input_tokens"]),
                _number(row["output_tokens"]),
                _cell(row["error_type"]),
                _cell(row["kind"]),
                _cell(row["payload"]),
            ]
        )
        count += 1
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _number(value: Any) -> str:
    return "" if value is None else str(value)
