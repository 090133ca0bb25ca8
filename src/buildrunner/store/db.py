"""Opening the project database: WAL, busy timeout, migrations, friendly errors.

Timestamps are stored as REAL seconds since the epoch (UTC) so that time windows are plain
comparisons on an index. Money is stored as INTEGER micro-dollars so sums in SQL are exact.
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
from buildrunner.store.migrate import apply_migrations, latest_version

BUSY_TIMEOUT_S = 10.0
DB_NAME = "buildrunner.db"


def now() -> float:
    """Current time as stored in the database (epoch seconds)."""
    return time.time()


def iso_utc(ts: float, *, millis: bool = False) -> str:
    """A stored epoch time as ISO 8601 UTC text, the one form every output uses ('...Z')."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Store:
    """Where a project's BuildRunner data lives."""

    root: Path  # the project directory

    @property
    def data_dir(self) -> Path:
        return self.root / ".buildrunner"

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def ensure_dirs(self) -> None:
        """Create `.buildrunner/` (mode 0700) and its `logs/` folder."""
        try:
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.data_dir, 0o700)
            self.logs_dir.mkdir(mode=0o700, exist_ok=True)
            ignore = self.data_dir / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# BuildRunner's local data: never commit it\n*\n")
        except OSError as exc:
            raise StoreError(f"cannot create {self.data_dir}: {exc.strerror or exc}") from None
        if not os.access(self.data_dir, os.W_OK):
            raise StoreError(f"{self.data_dir} is not writable")

    def connect(self, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
        """Open (creating and migrating if needed) the project's database."""
        self.ensure_dirs()
        return connect(self.db_path, busy_timeout_s=busy_timeout_s)


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding `.buildrunner/`, else a git top, else `start`."""
    env = os.environ.get("BR_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".buildrunner").is_dir():
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
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    if not existed:
        with suppress(OSError):
            os.chmod(path, 0o600)
    conn.row_factory = sqlite3.Row
    try:
        with _setup_lock(path):
            _prepare(conn, path, busy_timeout_s)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(describe_sqlite_error(path, exc, busy_timeout_s)) from None
    return conn


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


def describe_sqlite_error(path: Path, exc: sqlite3.Error, busy_timeout_s: float) -> str:
    """A one-line message for a low-level SQLite failure."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"database {path} is locked by another process (waited {busy_timeout_s:.1f}s)"
    if "not a database" in text or "malformed" in text:
        return f"database {path} is corrupt ({text}); move it aside to start afresh"
    if "readonly" in text:
        return f"database {path} is read-only"
    if "unable to open" in text:
        return f"cannot open database {path}"
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
        waited_s = time.monotonic() - started
        raise StoreError(describe_sqlite_error(Path(db_file(conn)), exc, waited_s)) from None
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
