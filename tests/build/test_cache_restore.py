"""Restoring a hit: only what differs is written, the log is replayed, user edits are never lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildrunner.build.cache import TaskCache
from buildrunner.build.cache_entry import CacheEntry
from buildrunner.build.cache_key import CacheKey
from buildrunner.parallel.plan import Plan
from tests.build.cache_helpers import make_cache, plan_of, write

PLAN = """
name: outputs
tasks:
  - id: gen
    run: ./gen.sh
    inputs: [gen.sh]
    files: [out/, report.txt, stale.txt]
"""


def stored(root: Path, script: str = "v1") -> tuple[TaskCache, Plan, CacheKey, CacheEntry]:
    """Run `gen` once (for real files) and store it; the cache, plan, key and entry."""
    write(root, "gen.sh", script)
    write(root, "out/a.txt", "alpha")
    write(root, "out/sub/b.bin", "beta")
    os.chmod(write(root, "out/run.sh", "#!/bin/sh\n"), 0o755)
    write(root, "report.txt", "report")
    log = write(root, "logs/gen.log", "the log of gen\n")
    cache = make_cache(root)
    plan = plan_of(PLAN)
    key = cache.key(plan.task("gen"), plan=plan, workdir=root)
    assert key is not None
    result = cache.store(
        key, workdir=root, log_path=log, cost_usd="0.42", duration_s=3.5, session_id="s1"
    )
    assert result.stored and result.entry is not None
    return cache, plan, key, result.entry


def test_store_records_files_links_and_deletions(tmp_path: Path) -> None:
    _cache, _plan, _key, entry = stored(tmp_path)
    by_path = {output.path: output for output in entry.outputs}
    assert set(by_path) == {"out/a.txt", "out/sub/b.bin", "out/run.sh", "report.txt", "stale.txt"}
    assert by_path["stale.txt"].deleted
    assert by_path["out/run.sh"].mode == 0o755
    assert str(entry.cost_usd) == "0.42" and entry.log_sha256


def test_a_hit_writes_only_what_differs(tmp_path: Path) -> None:
    cache, _plan, key, _entry = stored(tmp_path)
    untouched = (tmp_path / "out/a.txt").stat()
    (tmp_path / "out/sub/b.bin").unlink()
    os.chmod(tmp_path / "out/run.sh", 0o644)
    entry = cache.lookup(key)
    assert entry is not None
    log = tmp_path / "logs/attempt-2.log"
    result = cache.restore(entry, tmp_path, log_path=log)
    assert result.restored, result.reason
    assert set(result.written) == {"out/sub/b.bin", "out/run.sh"}
    assert result.unchanged == 3  # a.txt, run.sh (same content) and report.txt
    assert (tmp_path / "out/sub/b.bin").read_text() == "beta"
    assert os.stat(tmp_path / "out/run.sh").st_mode & 0o777 == 0o755
    after = (tmp_path / "out/a.txt").stat()
    assert (after.st_ino, after.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    assert log.read_text() == "the log of gen\n"
    assert result.log_path == str(log)
    again = cache.lookup(key)
    assert again is not None and again.hits == 1


def test_a_file_the_cached_run_deleted_is_deleted(tmp_path: Path) -> None:
    cache, plan, key, _entry = stored(tmp_path)
    # a later run of the task (other inputs) left stale.txt and an extra file; both are br's
    write(tmp_path, "gen.sh", "v2")
    write(tmp_path, "stale.txt", "left by v2")
    write(tmp_path, "out/extra.txt", "v2 only")
    key2 = cache.key(plan.task("gen"), plan=plan, workdir=tmp_path)
    assert key2 is not None and key2.digest != key.digest
    assert cache.store(
        key2, workdir=tmp_path, log_path=None, cost_usd=0, duration_s=1, session_id="s2"
    ).stored
    write(tmp_path, "gen.sh", "v1")  # back to the first inputs: a hit on the first entry
    first = cache.lookup(cache.key(plan.task("gen"), plan=plan, workdir=tmp_path))  # type: ignore[arg-type]
    assert first is not None and first.key == key.digest
    result = cache.restore(first, tmp_path)
    assert result.restored, result.reason
    assert set(result.deleted) == {"stale.txt", "out/extra.txt"}
    assert not (tmp_path / "stale.txt").exists() and not (tmp_path / "out/extra.txt").exists()


def test_restore_never_clobbers_a_user_edit(tmp_path: Path) -> None:
    cache, _plan, key, _entry = stored(tmp_path)
    write(tmp_path, "report.txt", "my own edit")  # the user changed an output
    (tmp_path / "out/a.txt").unlink()  # and an output is missing (would be restored)
    entry = cache.lookup(key)
    assert entry is not None
    log = tmp_path / "logs/attempt-2.log"
    result = cache.restore(entry, tmp_path, log_path=log)
    assert not result.restored
    assert result.clobbers == ("report.txt",)
    assert result.reason is not None and "report.txt" in result.reason
    # nothing at all was written: not the missing file, not the log
    assert (tmp_path / "report.txt").read_text() == "my own edit"
    assert not (tmp_path / "out/a.txt").exists()
    assert not log.exists()


def test_user_files_in_an_output_folder_are_left_alone(tmp_path: Path) -> None:
    cache, _plan, _key, entry = stored(tmp_path)
    write(tmp_path, "out/mine.txt", "someone's notes")
    (tmp_path / "out/a.txt").unlink()
    result = cache.restore(entry, tmp_path)
    assert result.restored
    assert (tmp_path / "out/mine.txt").read_text() == "someone's notes"
    assert "out/mine.txt" not in result.deleted


def test_an_output_that_was_never_br_s_counts_as_a_user_file(tmp_path: Path) -> None:
    """Restoring into another checkout: a differing file there was not left by br."""
    _cache, _plan, key, _entry = stored(tmp_path)
    other = tmp_path / "clone"
    write(other, "gen.sh", "v1")
    write(other, "report.txt", "checked-in version")
    cache = make_cache(tmp_path, cache_dir=tmp_path / ".buildrunner" / "cache")
    plan = plan_of(PLAN)
    here = cache.key(plan.task("gen"), plan=plan, workdir=other)
    assert here is not None and here.digest == key.digest  # keys do not depend on the folder
    entry = cache.lookup(here)
    assert entry is not None
    result = cache.restore(entry, other)
    assert not result.restored and result.clobbers == ("report.txt",)
    (other / "report.txt").unlink()
    result = cache.restore(entry, other)
    assert result.restored
    assert (other / "out/sub/b.bin").read_text() == "beta"


def test_a_manifest_that_escapes_the_task_folder_is_never_trusted(tmp_path: Path) -> None:
    cache, _plan, key, entry = stored(tmp_path)
    manifest = entry.to_manifest()
    manifest["outputs"][0]["path"] = "../escaped.txt"
    cache.conn.execute("DELETE FROM task_cache")
    Path(cache.dir.manifest_path(key.digest)).write_text(json.dumps(manifest))
    assert cache.lookup(key) is None
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert "unreadable" in cache.changes(key)[0].detail


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside"])
def test_links_pointing_out_are_not_stored(tmp_path: Path, target: str) -> None:
    write(tmp_path, "gen.sh", "v1")
    os.makedirs(tmp_path / "out")
    os.symlink(target, tmp_path / "out" / "link")
    cache = make_cache(tmp_path)
    plan = plan_of(PLAN)
    key = cache.key(plan.task("gen"), plan=plan, workdir=tmp_path)
    assert key is not None
    result = cache.store(
        key, workdir=tmp_path, log_path=None, cost_usd=0, duration_s=0, session_id=None
    )
    assert not result.stored and result.reason and "outside" in result.reason
    assert cache.lookup(key) is None


def test_links_inside_are_restored(tmp_path: Path) -> None:
    write(tmp_path, "gen.sh", "v1")
    write(tmp_path, "out/a.txt", "alpha")
    os.symlink("a.txt", tmp_path / "out" / "latest")
    cache = make_cache(tmp_path)
    plan = plan_of(PLAN)
    key = cache.key(plan.task("gen"), plan=plan, workdir=tmp_path)
    assert key is not None
    assert cache.store(
        key, workdir=tmp_path, log_path=None, cost_usd=0, duration_s=0, session_id=None
    ).stored
    (tmp_path / "out" / "latest").unlink()
    entry = cache.lookup(key)
    assert entry is not None
    assert cache.restore(entry, tmp_path).restored
    assert os.readlink(tmp_path / "out" / "latest") == "a.txt"


def test_restore_if_cached_answers_hit_or_why_not(tmp_path: Path) -> None:
    cache, plan, key, _entry = stored(tmp_path)
    task = plan.task("gen")
    log = tmp_path / "logs/attempt.log"
    hit = cache.restore_if_cached(
        task, plan=plan, workdir=tmp_path, dependency_keys={}, log_path=log
    )
    assert hit.hit and hit.entry is not None and hit.entry.key == key.digest
    assert str(hit.entry.cost_usd) == "0.42" and hit.reason == "" and log.exists()
    write(tmp_path, "report.txt", "edited by hand")
    refused = cache.restore_if_cached(task, plan=plan, workdir=tmp_path, dependency_keys={})
    assert not refused.hit and refused.key is not None and refused.key.digest == key.digest
    assert refused.reason.startswith("would overwrite 1 output(s) changed since br wrote them")
    write(tmp_path, "gen.sh", "v2")
    miss = cache.restore_if_cached(task, plan=plan, workdir=tmp_path, dependency_keys={})
    assert (miss.hit, miss.reason) == (False, "input gen.sh changed")
    plain = plan_of("name: p\ntasks:\n  - {id: t, run: 'true'}\n")
    no_key = cache.restore_if_cached(
        plain.task("t"), plan=plain, workdir=tmp_path, dependency_keys={}
    )
    assert no_key.key is None and no_key.reason.startswith("not cached")
