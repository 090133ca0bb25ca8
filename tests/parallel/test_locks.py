"""File locks on a real store: all-or-nothing, directories and globs, dead owners, no full scans."""

from __future__ import annotations

import sqlite3

from buildrunner.parallel.locks import acquire_locks, list_locks, lock_keys, release_locks
from tests.parallel.conftest import dead_pid


def test_keys_are_normalised_and_covered_paths_dropped() -> None:
    assert lock_keys(["a/./b.py", "a/b.py", "src/", "src/x.py", "docs/*.md"]) == [
        "a/b.py",
        "docs/",
        "src/",
    ]
    assert lock_keys(["*.py"]) == ["/"]


def test_all_or_nothing(conn: sqlite3.Connection) -> None:
    assert acquire_locks(conn, ["b.txt"], "s1", "holder").acquired
    result = acquire_locks(conn, ["a.txt", "b.txt", "c.txt"], "s2", "wants-three")
    assert not result.acquired
    assert result.conflict is not None and result.conflict.task_id == "holder"
    assert {lock.path for lock in list_locks(conn)} == {"b.txt"}  # a.txt was not taken
    release_locks(conn, "s1", "holder")
    assert acquire_locks(conn, ["a.txt", "b.txt", "c.txt"], "s2", "wants-three").acquired


def test_directory_lock_covers_files_inside_and_the_reverse(conn: sqlite3.Connection) -> None:
    assert acquire_locks(conn, ["src/"], "s1", "dir").acquired
    assert not acquire_locks(conn, ["src/pkg/mod.py"], "s2", "file").acquired
    assert acquire_locks(conn, ["srcx/mod.py"], "s2", "sibling").acquired  # not under src/
    release_locks(conn, "s1")
    assert acquire_locks(conn, ["src/pkg/mod.py"], "s2", "file").acquired
    assert not acquire_locks(conn, ["src/"], "s3", "dir-again").acquired


def test_the_same_task_may_ask_again(conn: sqlite3.Connection) -> None:
    assert acquire_locks(conn, ["x.py"], "s1", "t").acquired
    assert acquire_locks(conn, ["x.py"], "s1", "t").acquired
    assert len(list_locks(conn)) == 1


def test_locks_of_a_dead_owner_are_freed_on_conflict(conn: sqlite3.Connection) -> None:
    assert acquire_locks(conn, ["x.py"], "gone", "t", owner_pid=dead_pid()).acquired
    assert acquire_locks(conn, ["x.py"], "s2", "t2").acquired
    assert [lock.session_id for lock in list_locks(conn)] == ["s2"]


def test_conflict_lookups_use_the_index(conn: sqlite3.Connection) -> None:
    plans = [
        conn.execute("EXPLAIN QUERY PLAN SELECT * FROM locks WHERE path IN (?, ?)", ("a", "b")),
        conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM locks WHERE path > ? AND path < ? LIMIT 1",
            ("src/", "src0"),
        ),
    ]
    for plan in plans:
        detail = " ".join(str(row[3]) for row in plan)
        assert "SCAN locks" not in detail or "USING" in detail, detail
        assert "INDEX" in detail or "PRIMARY KEY" in detail, detail
