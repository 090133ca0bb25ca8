"""File content hashes, fast: a stat cache in the store (like git's index) and path patterns.

A file's SHA-256 is reused while its (size, mtime, ctime, inode) are unchanged, unless the file
was modified less than RACY_NS before it was hashed: a second write within the same timestamp tick
can leave the stat unchanged (git's "racily clean" entries), so such a file is hashed again until
it is older than that. Declared paths (`inputs:`, `files:`) are exact paths, directories (every
file below, tool caches skipped) or globs (`*` within a segment, `**` across segments).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from stat import S_ISLNK, S_ISREG
from typing import Literal, NamedTuple

from buildrunner.executors.workspace import IGNORED_DIRS, glob_to_regex, normalise
from buildrunner.store.db import transaction

RACY_NS = 2_000_000_000  # coarser than any common filesystem's timestamp granularity
CHUNK = 1 << 20
_GLOB_CHARS = frozenset("*?[")
_WHOLE_TREE = frozenset({".", "./", "**", "**/*"})

Record = tuple[int, int, int, int, str, int]  # size, mtime_ns, ctime_ns, inode, sha256, checked_ns


class Found(NamedTuple):  # a tuple: thousands are made per key, a dataclass costs 4x more
    """A path a pattern names: a regular file, a symbolic link, or an exact path that is absent."""

    relative: str  # POSIX, relative to the base folder
    path: str  # absolute
    kind: Literal["file", "link", "missing"]
    info: os.stat_result | None = None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    """SHA-256 hex of a file's content (raw reads: a third of the cost of a file object)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def link_digest(target: str) -> str:
    """What a symbolic link is hashed as: its target text, never what it points to."""
    return "link:" + sha256_bytes(target.encode("utf-8", "surrogateescape"))


def is_glob(pattern: str) -> bool:
    return any(char in _GLOB_CHARS for char in pattern)


def expand_patterns(base: str, patterns: Iterable[str]) -> dict[str, Found]:
    """Every file and link the patterns name under `base`, by relative path.

    An exact path that does not exist is reported as `missing`, so that its later appearance
    changes a key; a glob that matches nothing contributes nothing.
    """
    found: dict[str, Found] = {}
    for raw in patterns:
        pattern = normalise(raw)
        if pattern in _WHOLE_TREE:
            _walk(base, "", found, None)
        elif is_glob(pattern):
            segments = pattern.split("/")
            literal = next(i for i, part in enumerate(segments) if is_glob(part))
            prefix = "/".join(segments[:literal])
            _walk(base, prefix + "/" if prefix else "", found, glob_to_regex(pattern))
        else:
            relative = pattern.rstrip("/")
            path = os.path.join(base, relative)
            try:
                info = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                found.setdefault(relative, Found(relative, path, "missing"))
                continue
            if stat.S_ISDIR(info.st_mode):
                _walk(base, relative + "/", found, None)
            elif stat.S_ISLNK(info.st_mode):
                found[relative] = Found(relative, path, "link", info)
            elif stat.S_ISREG(info.st_mode):
                found[relative] = Found(relative, path, "file", info)
    return found


def _walk(base: str, prefix: str, found: dict[str, Found], match: re.Pattern[str] | None) -> None:
    """Files and links below base/prefix (tool caches skipped, directory links not followed)."""
    pending = [prefix]
    while pending:
        relative_dir = pending.pop()
        try:
            entries = list(os.scandir(os.path.join(base, relative_dir) if relative_dir else base))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            relative = relative_dir + entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in IGNORED_DIRS:
                    pending.append(relative + "/")
                continue
            if match is not None and not match.match(relative):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            mode = info.st_mode
            if S_ISREG(mode):
                found[relative] = Found(relative, entry.path, "file", info)
            elif S_ISLNK(mode):
                found[relative] = Found(relative, entry.path, "link", info)


class FileHasher:
    """Content hashes of files with a stat cache kept in the store (table `file_hashes`).

    A record is (size, mtime_ns, ctime_ns, inode, sha256, checked_ns), the columns of a row.
    New hashes are kept in memory until `flush()` writes them in one transaction.
    """

    def __init__(
        self, conn: sqlite3.Connection, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.conn = conn
        self.clock_ns = clock_ns
        self._records: dict[str, Record] = {}
        self._dirty: dict[str, Record] = {}
        self._loaded: list[str] = []  # folders whose rows are all in memory
        self.hashed_bytes = 0  # content actually read (the stat cache missed)

    def preload(self, folder: str) -> None:
        """Read every cached hash below `folder` at once (one range scan on the primary key)."""
        prefix = folder.rstrip("/") + "/"
        if any(prefix.startswith(done) for done in self._loaded):
            return
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples: thousands of rows on every run
        rows = cursor.execute(
            "SELECT path, size, mtime_ns, ctime_ns, inode, sha256, checked_ns FROM file_hashes"
            " WHERE path >= ? AND path < ?",
            (prefix, prefix[:-1] + chr(ord("/") + 1)),
        )
        loaded = {row[0]: row[1:] for row in rows}
        loaded.update(self._records)  # what this process hashed is newer
        self._records = loaded
        self._loaded.append(prefix)

    def digest(self, path: str, info: os.stat_result | None = None) -> str | None:
        """SHA-256 of a regular file, `link:...` for a symbolic link, None when absent or special."""
        if info is None:
            try:
                info = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                return None
        mode = info.st_mode
        if not S_ISREG(mode):
            if not S_ISLNK(mode):
                return None
            try:
                return link_digest(os.readlink(path))
            except OSError:
                return None
        record = self._records.get(path) or self._record(path)
        mtime = info.st_mtime_ns
        if (
            record is not None
            and record[1] == mtime
            and record[0] == info.st_size
            and record[2] == info.st_ctime_ns
            and record[3] == info.st_ino
            and mtime + RACY_NS <= record[5]
        ):
            return record[4]
        checked = self.clock_ns()
        try:
            sha = sha256_file(path)
        except (FileNotFoundError, IsADirectoryError):
            return None
        self.hashed_bytes += info.st_size
        self._records[path] = self._dirty[path] = (
            info.st_size,
            mtime,
            info.st_ctime_ns,
            info.st_ino,
            sha,
            checked,
        )
        return sha

    def _record(self, path: str) -> Record | None:
        """The stored record of a path outside the preloaded folders."""
        if any(path.startswith(done) for done in self._loaded):
            return None
        row = self.conn.execute(
            "SELECT size, mtime_ns, ctime_ns, inode, sha256, checked_ns FROM file_hashes"
            " WHERE path = ?",
            (path,),
        ).fetchone()
        if row is None:
            return None
        record: Record = tuple(row)
        self._records[path] = record
        return record

    def forget(self, paths: Sequence[str]) -> None:
        """Drop cached hashes (files that were deleted)."""
        for path in paths:
            self._records.pop(path, None)
            self._dirty.pop(path, None)
        with transaction(self.conn):
            self.conn.executemany("DELETE FROM file_hashes WHERE path = ?", [(p,) for p in paths])

    def flush(self) -> None:
        """Write the hashes computed since the last flush (one transaction)."""
        if not self._dirty:
            return
        rows = [(path, *record) for path, record in self._dirty.items()]
        self._dirty = {}
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT OR REPLACE INTO file_hashes"
                "(path, size, mtime_ns, ctime_ns, inode, sha256, checked_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
