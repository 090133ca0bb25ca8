"""Opening the project database: WAL, busy timeout, migrations, friendly errors.

Timestamps are stored as REAL seconds since the epoch (UTC) so that time windows are plain
comparisons on an index. Money is stored as INTEGER micro-dollars so sums in SQL are exact.

Layout: `.buildrunner/` at the project root is private (mode 0700, ignored by git: the database,
logs, cache, worktrees) and is created only by commands that write. What a team shares and
commits lives beside it at the root: `buildrunner.toml` (settings) and
`.buildrunner-baseline.json` (accepted security findings). Commands that only read open the
database read-only (`Store.connect_readonly`) and work in a read-only checkout.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from buildrunner.errors import SchemaTooNewError, StoreError
from buildrunner.store.migrate import apply_migrations, expected_tables, latest_version

BUSY_TIMEOUT_S = 10.0
DB_NAME = "buildrunner.db"
DATA_DIR = ".buildrunner"  # private: never committed
SHARED_CONFIG = "buildrunner.toml"  # committed settings at the project root


def now() -> float:
    """Current time as stored in the database (epoch seconds)."""
    return time.time()


def iso_utc(ts: float, *, millis: bool = False) -> str:
    """A stored epoch time as ISO 8601 UTC text, the one form every output uses ('...Z')."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(
        timespec="milliseconds" if millis else "seconds"
    )
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Store:
    """Where a project's BuildRunner data lives."""

    root: Path  # the project directory

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def ensure_dirs(self) -> None:
        """Create `.buildrunner/` (mode 0700, ignored by git) and its `logs/` folder."""
        for folder in (self.data_dir, self.logs_dir):
            if folder.exists() and not folder.is_dir():
                raise StoreError(f"{folder} exists and is not a folder; move it aside")
            try:
                folder.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {folder}: {exc.strerror or exc}") from None
        try:
            os.chmod(self.data_dir, 0o700)
            ignore = self.data_dir / ".gitignore"
            if not ignore.exists():
                ignore.write_text(
                    "# BuildRunner's private data (database, logs, cache): never commit it\n*\n"
                )
        except OSError as exc:
            raise StoreError(f"cannot set up {self.data_dir}: {exc.strerror or exc}") from None
        for folder in (self.data_dir, self.logs_dir):
            if not os.access(folder, os.W_OK):
                raise StoreError(f"{folder} is not writable")

    def connect(self, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
        """Open (creating and migrating if needed) the project's database."""
        self.ensure_dirs()
        return connect(self.db_path, busy_timeout_s=busy_timeout_s)

    def connect_readonly(self, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
        """The database for a command that only reads: nothing is created or written.

        Without a database yet, an empty in-memory one with the current schema answers (no
        sessions, no events). A database that still needs migrating is migrated in place when
        its folder is writable; in a read-only checkout it is refused with a clear message.
        """
        if not self.db_path.exists():
            return empty_database()
        if os.access(self.data_dir, os.W_OK) and os.access(self.db_path, os.W_OK):
            version = _user_version(self.db_path)
            if version is None or version < latest_version():
                return self.connect(busy_timeout_s=busy_timeout_s)
        return connect_readonly(self.db_path, busy_timeout_s=busy_timeout_s)


def find_project_root(start: Path | None = None) -> Path:
    """The project a command works on, by one rule.

    `BR_PROJECT_DIR` if set; else the nearest folder at or above `start` holding `.buildrunner/`
    or `buildrunner.toml`; else the top of the git repository around `start`; else `start`.
    """
    env = os.environ.get("BR_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / DATA_DIR).is_dir() or (candidate / SHARED_CONFIG).is_file():
            return candidate
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def open_store(start: Path | None = None) -> Store:
    """The Store of the project that contains `start` (default: the current directory)."""
    return Store(find_project_root(start))


def connect(path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open a database file with our pragmas and bring its schema up to date."""
    existed = path.exists()
    try:
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except (sqlite3.Error, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise StoreError(f"cannot open database {path}: {exc}") from None
    if not existed:
        with suppress(OSError):
            os.chmod(path, 0o600)
    conn.row_factory = sqlite3.Row
    try:
        with _setup_lock(path):
            _prepare(conn, path, busy_timeout_s)
            check_tables(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(describe_sqlite_error(path, exc, busy_timeout_s)) from None
    except StoreError:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open an existing, up-to-date database without writing anything (not even its WAL index).

    In a read-only folder SQLite cannot create the `-shm` file a WAL database needs: then the
    file is opened as immutable, which is right for a checkout nobody writes to.
    """
    last: sqlite3.Error | None = None
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        uri = f"{path.resolve().as_uri()}?{flags}"
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            if version > latest_version():
                raise SchemaTooNewError(
                    f"database {path} has schema version {version}, newer than this BuildRunner "
                    f"understands ({latest_version()}); upgrade BuildRunner"
                )
            if version < latest_version():
                raise StoreError(
                    f"database {path} has schema version {version} and needs upgrading to "
                    f"{latest_version()}, which a read-only folder does not allow; run br where "
                    "it can write"
                )
            check_tables(conn, path)
        except BaseException:
            conn.close()
            raise
        return conn
    assert last is not None
    raise StoreError(describe_sqlite_error(path, last, busy_timeout_s))


def empty_database() -> sqlite3.Connection:
    """An in-memory database with the current schema: what a read finds before any write."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    apply_migrations(conn, 0)
    return conn


def _user_version(path: Path) -> int | None:
    """The schema version of a database file, or None when it cannot be read."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def check_tables(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database whose tables were dropped (by hand, or by another program)."""
    present = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    missing = sorted(expected_tables() - present)
    if missing:
        raise StoreError(
            f"database {path} is damaged: table {', '.join(repr(name) for name in missing)} "
            "is missing; move the file aside to start afresh"
        )


@contextmanager
def _setup_lock(path: Path) -> Iterator[None]:
    """Serialise first-time setup (WAL switch, migrations) between processes opening one file.

    Two processes switching a new database to WAL at once can deadlock inside SQLite (both hold
    a shared lock and want an exclusive one), which the busy timeout does not resolve.
    """
    import fcntl

    try:
        handle = os.fdopen(os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600), "r+")
    except OSError:
        yield  # a read-only folder: nothing to serialise, SQLite will report what it can't do
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _prepare(conn: sqlite3.Connection, path: Path, busy_timeout_s: float) -> None:
    """Pragmas and migrations for a fresh connection."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > latest_version():
        conn.close()
        raise SchemaTooNewError(
            f"database {path} has schema version {version}, newer than this BuildRunner "
            f"understands ({latest_version()}); upgrade BuildRunner"
        )
    if version < latest_version():
        apply_migrations(conn, version)


def describe_sqlite_error(path: Path | str, exc: sqlite3.Error, waited_s: float) -> str:
    """A one-line message for a low-level SQLite failure (`waited_s`: time spent on a lock)."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"database {path} is locked by another process (waited {waited_s:.1f}s)"
    if "not a database" in text or "malformed" in text:
        return f"database {path} is corrupt ({text}); move it aside to start afresh"
    if "readonly" in text or "read-only" in text:
        return f"database {path} is read-only (a command that writes needs a writable folder)"
    if "disk is full" in text or "database or disk is full" in text:
        return f"database {path}: the disk is full"
    if "no such table" in text or "no such column" in text:
        return f"database {path} is damaged ({text}); move it aside to start afresh"
    if "unable to open" in text:
        return f"cannot open database {path}"
    if "disk I/O error" in text:
        return f"database {path}: disk I/O error (a full or failing disk?)"
    return f"database {path}: {text}"


@contextmanager
def transaction(
    conn: sqlite3.Connection, *, immediate: bool = True
) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE so writers queue on the busy timeout)."""
    started = time.monotonic()
    try:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    except sqlite3.OperationalError as exc:
        waited = time.monotonic() - started
        raise StoreError(describe_sqlite_error(db_file(conn), exc, waited)) from None
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def db_file(conn: sqlite3.Connection) -> str:
    """The file behind a connection (for messages)."""
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "?"
