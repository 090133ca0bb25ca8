from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from buildrunner.errors import SchemaTooNewError, StoreError
from buildrunner.store.db import Store, connect, transaction
from buildrunner.store.migrate import latest_version, migration_files, split_statements

CORE_TABLES = {"sessions", "tasks", "attempts", "events", "workers", "locks", "costs", "alerts"}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_new_database_is_migrated_with_safe_permissions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    conn = store.connect()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert tables(conn) >= CORE_TABLES
    assert stat.S_IMODE(store.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.db_path.stat().st_mode) == 0o600


def test_migrations_are_numbered_uniquely_and_in_order() -> None:
    versions = [version for version, _, _ in migration_files()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


def test_older_database_upgrades_in_place_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    first = migration_files()[0]
    for statement in split_statements(first[2]):
        raw.execute(statement)
    raw.execute(f"PRAGMA user_version = {first[0]}")
    raw.execute(
        "INSERT INTO budgets(scope, limit_micro_usd, hard, updated_at) VALUES ('daily', 5, 1, 0)"
    )
    raw.commit()
    raw.close()
    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert conn.execute("SELECT limit_micro_usd FROM budgets").fetchone()[0] == 5


def test_empty_file_at_version_zero_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    conn = connect(path)
    assert tables(conn) >= CORE_TABLES


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {latest_version() + 7}")
    raw.close()
    with pytest.raises(SchemaTooNewError, match="newer than this BuildRunner"):
        connect(path)


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="corrupt"):
        connect(path)


def test_locked_database_waits_then_says_so(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = connect(path)
    holder.execute("BEGIN IMMEDIATE")
    other = connect(path, busy_timeout_s=0.3)
    with pytest.raises(StoreError, match="locked by another process") as caught, transaction(other):
        pass
    holder.execute("ROLLBACK")
    # the message shows the wait that really happened, not 0s
    waited = float(str(caught.value).split("waited ")[1].rstrip("s)"))
    assert waited >= 0.2


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.db")
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute(
            "INSERT INTO budgets(scope, limit_micro_usd, hard, updated_at) VALUES ('x', 1, 1, 0)"
        )
        raise RuntimeError("boom")
    assert conn.execute("SELECT COUNT(*) FROM budgets").fetchone()[0] == 0


def test_unwritable_data_dir_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / ".buildrunner").write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="cannot create"):
        Store(tmp_path).connect()
