"""Pruning: least recently used entries go first, shared blobs stay while anything needs them."""

from __future__ import annotations

import os
import time
from pathlib import Path

from buildrunner.build.cache import TaskCache
from buildrunner.build.cache_key import CacheKey
from tests.build.cache_helpers import make_cache, plan_of, write

PLAN = """
name: prune
tasks:
  - {id: gen, run: ./gen.sh, inputs: [gen.sh], files: [out.bin, common.txt]}
"""


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def store_version(cache: TaskCache, root: Path, version: int, size: int = 1000) -> CacheKey:
    """Store the result of `gen` for input version `version` (a unique output of `size` bytes)."""
    write(root, "gen.sh", f"v{version}")
    write(root, "out.bin", str(version) * size)
    write(root, "common.txt", "the same in every version")
    plan = plan_of(PLAN)
    key = cache.key(plan.task("gen"), plan=plan, workdir=root)
    assert key is not None
    assert cache.store(
        key, workdir=root, log_path=None, cost_usd=0, duration_s=0, session_id=None
    ).stored
    return key


def cached(cache: TaskCache, key: CacheKey) -> bool:
    return (
        cache.conn.execute("SELECT 1 FROM task_cache WHERE key = ?", (key.digest,)).fetchone()
        is not None
    )


def test_the_size_cap_evicts_least_recently_used_first(tmp_path: Path) -> None:
    clock = Clock()
    cache = make_cache(tmp_path, max_bytes=3100, clock=clock)
    keys = []
    for version in range(1, 4):
        clock.now += 10
        keys.append(store_version(cache, tmp_path, version))
    assert all(cached(cache, key) for key in keys)  # 3 x 1000 + the shared 25 bytes fit
    clock.now += 10
    entry = cache.lookup(keys[0])  # the oldest entry is used again: now the most recent
    assert entry is not None
    assert cache.restore(entry, tmp_path).written == ("out.bin",)  # over v3's, which br left
    clock.now += 10
    keys.append(store_version(cache, tmp_path, 4))  # over the cap: prune to 90% of it
    assert [cached(cache, key) for key in keys] == [True, False, False, True]
    blobs = list(cache.dir.iter_blobs())
    assert sum(size for *_rest, size, _mtime in blobs) <= 3100 * 0.9
    assert any(size == 25 for *_rest, size, _mtime in blobs)  # the shared blob is still needed


def test_explicit_prune_by_age_and_size(tmp_path: Path) -> None:
    clock = Clock()
    cache = make_cache(tmp_path, clock=clock)
    old = store_version(cache, tmp_path, 1)
    clock.now += 5 * 86400
    recent = [store_version(cache, tmp_path, version) for version in (2, 3)]
    result = cache.prune(older_than_s=3 * 86400)
    assert (result.removed_entries, result.kept_entries) == (1, 2)
    assert result.freed_bytes == 1000  # its own output; the shared blob stays
    assert not cached(cache, old) and cached(cache, recent[0])
    assert not Path(cache.dir.manifest_path(old.digest)).exists()
    result = cache.prune(max_bytes=1100)
    assert (result.removed_entries, result.kept_entries) == (1, 1)
    assert cached(cache, recent[1]) and not cached(cache, recent[0])
    assert result.kept_bytes == 1025
    result = cache.prune(max_bytes=0)
    assert result.kept_entries == 0 and result.kept_bytes == 0
    assert list(cache.dir.iter_blobs()) == []


def test_orphan_blobs_wait_out_the_grace_period(tmp_path: Path) -> None:
    """A blob no manifest names may belong to a store still in progress: kept while young."""
    clock = Clock()
    cache = make_cache(tmp_path, clock=clock)
    write(tmp_path, "orphan.txt", "written by a store that has not written its manifest yet")
    sha, _size, _new = cache.dir.put_file(str(tmp_path / "orphan.txt"))
    cache.prune()
    assert os.path.exists(cache.dir.blob_path(sha))
    clock.now += 2 * 3600
    assert cache.prune().removed_blobs == 1
    assert not os.path.exists(cache.dir.blob_path(sha))


def test_entries_other_machines_use_are_pruned_by_their_manifest_time(tmp_path: Path) -> None:
    clock = Clock()
    shared = tmp_path / "shared"
    mine = make_cache(tmp_path / "a", cache_dir=shared, clock=clock)
    key = store_version(mine, tmp_path / "a", 1)
    clock.now += 10 * 86400
    other = make_cache(tmp_path / "b", cache_dir=shared, clock=clock)
    write(tmp_path / "b", "gen.sh", "v1")
    entry = other.lookup(key)  # another project uses it today: the manifest file is touched
    assert entry is not None and other.restore(entry, tmp_path / "b").restored
    assert mine.prune(older_than_s=5 * 86400).removed_entries == 0
    clock.now += 10 * 86400
    assert mine.prune(older_than_s=5 * 86400).removed_entries == 1
    assert other.lookup(key) is None


def test_rows_of_deleted_files_are_forgotten(tmp_path: Path) -> None:
    cache = make_cache(tmp_path)
    store_version(cache, tmp_path, 1)
    worktree = tmp_path / "worktree"  # a session's worktree, hashed, then removed
    write(worktree, "gen.sh", "v1")
    plan = plan_of(PLAN)
    assert cache.key(plan.task("gen"), plan=plan, workdir=worktree) is not None
    rows = cache.conn.execute("SELECT COUNT(*) FROM file_hashes").fetchone()[0]
    (worktree / "gen.sh").unlink()
    os.unlink(tmp_path / "out.bin")
    assert cache.forget_missing_files() == 2  # a hashed input and a known output
    assert cache.conn.execute("SELECT COUNT(*) FROM file_hashes").fetchone()[0] == rows - 1
    assert cache.forget_missing_files() == 0
