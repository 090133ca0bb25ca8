"""Numbered schema migrations: `migrations/NNNN_name.sql`, applied in order via PRAGMA user_version.

Each subsystem adds its own files; numbers only ever grow and a gap is allowed.
"""

from __future__ import annotations

import re
import sqlite3
from functools import cache
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@cache
def migration_files() -> tuple[tuple[int, str, str], ...]:
    """(version, name, sql) for every shipped migration, ordered by version."""
    found = []
    for entry in resources.files("buildrunner.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return tuple(found)


_CREATE_TABLE = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"`\[]?(\w+)", re.IGNORECASE
)
_DROP_TABLE = re.compile(r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?[\"`\[]?(\w+)", re.IGNORECASE)
_RENAME_TABLE = re.compile(
    r"ALTER\s+TABLE\s+[\"`\[]?(\w+)[\"`\]]?\s+RENAME\s+TO\s+[\"`\[]?(\w+)", re.IGNORECASE
)


@cache
def expected_tables() -> frozenset[str]:
    """Tables the shipped migrations leave in a database (created and not dropped again)."""
    tables: set[str] = set()
    for _version, _name, sql in migration_files():
        for statement in split_statements(sql):
            text = statement.lstrip()
            if created := _CREATE_TABLE.match(text):
                tables.add(created.group(1))
            elif dropped := _DROP_TABLE.match(text):
                tables.discard(dropped.group(1))
            elif renamed := _RENAME_TABLE.match(text):
                tables.discard(renamed.group(1))
                tables.add(renamed.group(2))
    return frozenset(tables)


def latest_version() -> int:
    """The schema version this code writes."""
    files = migration_files()
    return files[-1][0] if files else 0


def apply_migrations(conn: sqlite3.Connection, current: int) -> list[int]:
    """Apply every migration newer than `current`, each in its own transaction."""
    applied = []
    for version, _name, sql in migration_files():
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-check under the write lock: another process may have migrated meanwhile
            if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                conn.execute("ROLLBACK")
                continue
            for statement in split_statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(version)}")  # a PRAGMA takes no parameters
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(version)
    return applied


def split_statements(sql: str) -> list[str]:
    """Split a migration script on statement boundaries (sqlite3.complete_statement aware)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
