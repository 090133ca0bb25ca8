"""Pruning the cache: least recently used entries first, then the blobs nothing refers to.

The entries of a folder are its manifest files (every machine sharing it writes them) and this
project's rows; an entry's last use is the later of its row's `last_used_at` and its file's mtime
(a hit touches the file). Manifests go first, blobs after, so a reader never trusts an entry whose
blobs were removed under it without noticing (a missing blob is a miss). A blob no manifest refers
to is removed only when an evicted entry used it or it is older than the grace period: younger
ones may belong to a store still writing its blobs before its manifest.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from buildrunner.build.cache_entry import CacheEntry
from buildrunner.build.cache_index import CacheIndex
from buildrunner.build.cache_store import CacheDir
from buildrunner.build.hashing import FileHasher

GRACE_S = 3600.0


@dataclass(frozen=True)
class PruneResult:
    removed_entries: int
    removed_blobs: int
    freed_bytes: int
    kept_entries: int
    kept_bytes: int
    removed_keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "removed_entries": self.removed_entries,
            "removed_blobs": self.removed_blobs,
            "freed_bytes": self.freed_bytes,
            "kept_entries": self.kept_entries,
            "kept_bytes": self.kept_bytes,
        }


@dataclass
class _Entry:
    key: str
    last_used: float
    blobs: set[str]


def prune_cache(
    index: CacheIndex,
    cache_dir: CacheDir,
    *,
    now: float,
    older_than_s: float | None,
    max_bytes: int | None,
    grace_s: float = GRACE_S,
) -> PruneResult:
    """Remove entries unused for `older_than_s`, then LRU ones until blobs fit in `max_bytes`."""
    entries, junk = _entries(index.conn, cache_dir)
    blobs = {sha: (path, size, mtime) for sha, path, size, mtime in cache_dir.iter_blobs()}
    refs: dict[str, int] = {}
    for entry in entries:
        for sha in entry.blobs:
            refs[sha] = refs.get(sha, 0) + 1
    used = sum(blobs[sha][1] for sha in refs if sha in blobs)
    evicted: list[_Entry] = []
    for entry in sorted(entries, key=lambda item: item.last_used):
        too_old = older_than_s is not None and entry.last_used < now - older_than_s
        too_big = max_bytes is not None and used > max_bytes
        if not (too_old or too_big):
            continue
        evicted.append(entry)
        for sha in entry.blobs:
            refs[sha] -= 1
            if refs[sha] == 0 and sha in blobs:
                used -= blobs[sha][1]
    removed = [entry.key for entry in evicted] + junk
    for key in removed:
        cache_dir.remove_manifest(key)
    index.remove(removed)
    freed_by_evicted = {sha for entry in evicted for sha in entry.blobs}
    removed_blobs, freed = [], 0
    for sha, (path, size, mtime) in blobs.items():
        if refs.get(sha, 0) > 0:
            continue
        if sha in freed_by_evicted or mtime < now - grace_s:
            with suppress(FileNotFoundError):
                os.unlink(path)
                removed_blobs.append(path)
                freed += size
    for path, mtime in list(cache_dir.iter_tmp()):
        if mtime < now - grace_s:
            with suppress(FileNotFoundError):
                os.unlink(path)
    if removed_blobs:
        cache_dir.hasher.forget(removed_blobs)
    kept = sum(size for _path, size, _mtime in blobs.values()) - freed
    return PruneResult(
        removed_entries=len(evicted),
        removed_blobs=len(removed_blobs),
        freed_bytes=freed,
        kept_entries=len(entries) - len(evicted),
        kept_bytes=kept,
        removed_keys=tuple(entry.key for entry in evicted),
    )


def _entries(conn: sqlite3.Connection, cache_dir: CacheDir) -> tuple[list[_Entry], list[str]]:
    """Every entry of the folder and of this store; plus unreadable manifests (junk)."""
    found: dict[str, _Entry] = {}
    junk: list[str] = []
    for key, last_used, manifest in conn.execute(
        "SELECT key, last_used_at, manifest_json FROM task_cache"
    ):
        blobs = _blobs(manifest, key)
        if blobs is None:
            junk.append(key)
        else:
            found[key] = _Entry(key, last_used, blobs)
    for key, path, mtime in cache_dir.iter_manifests():
        if key in found:
            found[key].last_used = max(found[key].last_used, mtime)
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        blobs = _blobs(text, key)
        if blobs is None:
            junk.append(key)
        else:
            found[key] = _Entry(key, mtime, blobs)
    return list(found.values()), junk


def _blobs(manifest: str, key: str) -> set[str] | None:
    try:
        return CacheEntry.from_manifest(json.loads(manifest), key=key).blobs()
    except ValueError:
        return None


def forget_missing_files(hasher: FileHasher, index: CacheIndex, now: float) -> int:
    """Drop stat-cache and known-output rows of files that are gone (removed worktrees)."""
    conn = index.conn
    hashed = [
        path
        for (path,) in conn.execute("SELECT path FROM file_hashes")
        if not os.path.lexists(path)
    ]
    outputs = [
        path
        for (path,) in conn.execute("SELECT path FROM cache_outputs")
        if not os.path.lexists(path)
    ]
    hasher.forget(hashed)
    index.record_outputs("", [], outputs, now)
    return len(hashed) + len(outputs)
