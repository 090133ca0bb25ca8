"""Finding damage in a store: values of the wrong type, JSON that does not parse.

SQLite keeps whatever another program (or a hand-edit) writes, so a `created_at` of 'garbage'
reaches br's readers and breaks them far from the cause. Checking every row on every open
would cost a scan per command; instead `find_damage` runs when a command fails unexpectedly,
so a damaged store is reported as such (bad input, exit 2) and not as a bug in br (exit 3).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

# declared column type -> the storage classes (SQLite typeof) a value of that column may have
ALLOWED = {
    "REAL": ("real", "integer", "null"),
    "INTEGER": ("integer", "null"),
    "TEXT": ("text", "null"),
}
JSON_COLUMNS = frozenset({"metadata", "payload"})  # plus every column named *_json
# Table and column names come from the database's own catalog; only plain names are queried.
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Damage:
    """One damaged value: where it is and what it holds."""

    table: str
    column: str
    value: str  # shown with repr, cut to 40 characters
    problem: str  # "a text value in a REAL column", "JSON that does not parse"

    def describe(self) -> str:
        return f"{self.table}.{self.column} holds {self.value} ({self.problem})"


def find_damage(conn: sqlite3.Connection, tables: frozenset[str] | None = None) -> Damage | None:
    """The first damaged value in the store's tables, or None when every value fits its column."""
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    for table in names:
        if (tables is not None and table not in tables) or not _PLAIN_NAME.match(table):
            continue
        columns = conn.execute("SELECT name, type FROM pragma_table_info(?)", (table,)).fetchall()
        for column in columns:
            name, declared = str(column[0]), str(column[1]).upper()
            if not _PLAIN_NAME.match(name):
                continue
            found = _wrong_type(conn, table, name, declared) or _bad_json(conn, table, name)
            if found is not None:
                return found
    return None


def _wrong_type(conn: sqlite3.Connection, table: str, column: str, declared: str) -> Damage | None:
    allowed = ALLOWED.get(declared)
    if allowed is None:
        return None
    marks = ", ".join("?" * len(allowed))
    # names from the store's own catalog, each checked against _PLAIN_NAME by the caller
    row = conn.execute(
        f'SELECT "{column}", typeof("{column}") FROM "{table}"'  # br: allow (catalog names)
        f' WHERE typeof("{column}") NOT IN ({marks}) LIMIT 1',
        allowed,
    ).fetchone()
    if row is None:
        return None
    return Damage(table, column, _shown(row[0]), f"a {row[1]} value in a {declared} column")


def _bad_json(conn: sqlite3.Connection, table: str, column: str) -> Damage | None:
    if column not in JSON_COLUMNS and not column.endswith("_json"):
        return None
    row = conn.execute(  # names from the store's catalog, checked against _PLAIN_NAME
        f'SELECT "{column}" FROM "{table}"'  # br: allow (catalog names)
        f' WHERE "{column}" IS NOT NULL AND json_valid("{column}") = 0 LIMIT 1'
    ).fetchone()
    if row is None:
        return None
    return Damage(table, column, _shown(row[0]), "JSON that does not parse")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
