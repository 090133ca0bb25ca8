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


def old_database(path: Path) -> sqlite3.Connection:
    """A database at the first schema version (an older br wrote it); still open."""
    raw = sqlite3.connect(path)
    first = migration_files()[0]
    for statement in split_statements(first[2]):
        raw.execute(statement)
    raw.execute(f"PRAGMA user_version = {first[0]}")
    return raw


def test_older_database_upgrades_in_place_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = old_database(path)
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
    with pytest.raises(StoreError, match="exists and is not a folder"):
        Store(tmp_path).connect()


def test_a_logs_path_that_cannot_take_logs_is_named(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.data_dir.mkdir()
    store.logs_dir.symlink_to("/dev/full")  # every write there would fail with ENOSPC
    with pytest.raises(StoreError, match=r"logs exists and is not a folder"):
        store.connect()


def test_private_folder_is_ignored_by_git(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.connect().close()
    assert (store.data_dir / ".gitignore").read_text().splitlines()[-1] == "*"


def test_reading_never_creates_the_private_folder(tmp_path: Path) -> None:
    store = Store(tmp_path)
    conn = store.connect_readonly()
    assert tables(conn) >= CORE_TABLES  # an empty database answers
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    assert not store.data_dir.exists()


def test_reading_a_read_only_checkout(tmp_path: Path) -> None:
    import os

    from tests.conftest import read_only

    store = Store(tmp_path)
    conn = store.connect()
    conn.execute(
        "INSERT INTO budgets(scope, limit_micro_usd, hard, updated_at) VALUES ('daily', 5, 1, 0)"
    )
    conn.close()
    before = sorted(os.listdir(store.data_dir))
    with read_only(tmp_path):
        reader = store.connect_readonly()
        assert reader.execute("SELECT limit_micro_usd FROM budgets").fetchone()[0] == 5
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("DELETE FROM budgets")
        reader.close()
        with pytest.raises(StoreError, match=r"read-only|cannot|not writable"):
            store.connect()  # a command that writes says why it cannot
    assert sorted(os.listdir(store.data_dir)) == before


def test_a_read_only_connection_is_refused_for_a_database_needing_migration(tmp_path: Path) -> None:
    from buildrunner.store.db import connect_readonly

    path = tmp_path / "old.db"
    raw = old_database(path)
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="needs upgrading"):
        connect_readonly(path)


def test_a_dropped_table_is_a_damaged_database(tmp_path: Path) -> None:
    store = Store(tmp_path)
    conn = store.connect()
    conn.execute("DROP TABLE events")
    conn.close()
    with pytest.raises(StoreError, match="damaged: table 'events' is missing"):
        store.connect()
    with pytest.raises(StoreError, match="damaged: table 'events' is missing"):
        store.connect_readonly()
