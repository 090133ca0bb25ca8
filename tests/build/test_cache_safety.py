"""Safety: corrupt blobs, kill -9 in the middle of a store, two writers of one key, shared folders."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from buildrunner.build.cache import TaskCache
from buildrunner.build.cache_key import CacheKey
from tests.build.cache_helpers import make_cache, plan_of, write

REPO = Path(__file__).resolve().parents[2]
PLAN = """
name: safety
tasks:
  - {id: gen, run: ./gen.sh, inputs: [gen.sh], files: [out/]}
"""


def prepare(root: Path, *, big: bool = False) -> None:
    write(root, "gen.sh", "v1")
    write(root, "out/small.txt", "small")
    write(root, "out/big.bin", "0123456789abcdef" * (16_384 if big else 4))
    write(root, "out/last.txt", "last")


def key_and_cache(root: Path, **options: object) -> tuple[TaskCache, CacheKey]:
    cache = make_cache(root, **options)  # type: ignore[arg-type]
    plan = plan_of(PLAN)
    key = cache.key(plan.task("gen"), plan=plan, workdir=root)
    assert key is not None
    return cache, key


def store(cache: TaskCache, key: CacheKey, root: Path) -> None:
    assert cache.store(
        key, workdir=root, log_path=None, cost_usd=0, duration_s=0, session_id=None
    ).stored


def blob_of(cache: TaskCache, text: str) -> Path:
    return Path(cache.dir.blob_path(hashlib.sha256(text.encode()).hexdigest()))


def assert_blobs_sound(cache: TaskCache) -> None:
    for sha, path, _size, _mtime in cache.dir.iter_blobs():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha, path


def test_a_corrupt_blob_is_a_miss_and_is_healed_by_the_next_store(tmp_path: Path) -> None:
    prepare(tmp_path)
    cache, key = key_and_cache(tmp_path)
    store(cache, key, tmp_path)
    blob = blob_of(cache, "small")
    blob.write_text("SMALL")  # same size, other content
    assert cache.lookup(key) is None
    assert not blob.exists()  # the bad blob is gone, so the next store writes it again
    assert cache.changes(key)[0].kind == "corrupt"
    assert "out/small.txt" in cache.changes(key)[0].detail
    store(cache, key, tmp_path)
    assert cache.lookup(key) is not None
    assert cache.changes(key) == []


def test_a_truncated_blob_is_a_miss(tmp_path: Path) -> None:
    prepare(tmp_path)
    cache, key = key_and_cache(tmp_path)
    store(cache, key, tmp_path)
    blob = blob_of(cache, "last")
    blob.write_bytes(b"la")
    assert make_cache(tmp_path).lookup(key) is None


def test_a_blob_corrupted_after_lookup_stops_the_restore_before_any_write(tmp_path: Path) -> None:
    prepare(tmp_path)
    cache, key = key_and_cache(tmp_path)
    store(cache, key, tmp_path)
    entry = cache.lookup(key)
    assert entry is not None
    (tmp_path / "out/small.txt").unlink()
    (tmp_path / "out/last.txt").unlink()
    blob_of(cache, "last").write_text("LAST")
    result = cache.restore(entry, tmp_path, log_path=tmp_path / "attempt.log")
    assert not result.restored and result.corrupt
    assert not (tmp_path / "out/small.txt").exists()  # no partial restore
    assert not (tmp_path / "out/last.txt").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["big.bin"]  # no temp files left
    assert cache.lookup(key) is None


CHILD = textwrap.dedent("""
    import contextlib, os, sys, time
    from pathlib import Path
    from buildrunner.build import cache as cache_module, cache_index, cache_store
    from buildrunner.parallel.plan import parse_plan
    from buildrunner.store.db import Store

    root, stage = Path(sys.argv[1]), sys.argv[2]

    def pause():
        (root / "ready").write_text(stage)
        time.sleep(120)

    if stage == "mid-blob":  # in the middle of copying the big output into a temporary blob
        cache_store.CHUNK = 4096
        real = cache_store.hashlib.sha256
        class Slow:
            def __init__(self):
                self.inner, self.calls = real(), 0
            def update(self, data):
                self.calls += 1
                if self.calls == 20:
                    pause()
                self.inner.update(data)
            def hexdigest(self):
                return self.inner.hexdigest()
        cache_store.hashlib = type("H", (), {"sha256": Slow})
    elif stage == "before-rename":  # a complete temporary blob, not renamed yet
        real_replace = os.replace
        def replace(src, dst):
            pause()
        cache_store.os = type("O", (), {**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")},
                                        "replace": staticmethod(replace)})
    elif stage == "before-manifest":  # every blob in place, no manifest yet
        cache_store.CacheDir.write_manifest = lambda *args, **kwargs: pause()
    elif stage == "before-commit":  # manifest file written, row inserted but not committed
        real_transaction = cache_index.transaction
        @contextlib.contextmanager
        def transaction(conn):
            with real_transaction(conn) as handle:
                yield handle
                pause()
        cache_index.transaction = transaction

    plan = parse_plan(sys.argv[3])
    cache = cache_module.TaskCache(Store(root).connect(), root / ".buildrunner" / "cache", environ={})
    key = cache.key(plan.task("gen"), plan=plan, workdir=root)
    cache.store(key, workdir=root, log_path=None, cost_usd=1, duration_s=1, session_id="killed")
    (root / "ready").write_text("finished")
""")


def spawn(root: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):  # created and written (two steps)
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "child died")
        assert time.monotonic() < deadline, "child never reached the point to kill it at"
        time.sleep(0.02)
    return path.read_text()


@pytest.mark.parametrize("stage", ["mid-blob", "before-rename", "before-manifest", "before-commit"])
def test_kill_9_during_a_store_leaves_no_entry_that_is_trusted_wrongly(
    tmp_path: Path, stage: str
) -> None:
    prepare(tmp_path, big=True)
    child = spawn(tmp_path, stage, PLAN)
    assert wait_for(tmp_path / "ready", child) == stage
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    cache, key = key_and_cache(tmp_path, clock=lambda: time.time() + 7200)
    entry = cache.lookup(key)
    if stage == "before-commit":
        # the manifest file was complete and every blob was in: a sound entry (another machine
        # sharing the folder would find exactly this), restored byte for byte
        assert entry is not None
        (tmp_path / "out/big.bin").unlink()
        assert cache.restore(entry, tmp_path).restored
        assert (tmp_path / "out/big.bin").read_text() == "0123456789abcdef" * 16_384
    else:
        assert entry is None
        assert cache.conn.execute("SELECT COUNT(*) FROM task_cache").fetchone()[0] == 0
    assert_blobs_sound(cache)  # a torn write never sits under a blob's name
    left = list(cache.dir.iter_tmp())
    assert bool(left) == (stage in ("mid-blob", "before-rename"))
    cache.prune()  # the killed writer's temporary file is swept once older than the grace period
    assert list(cache.dir.iter_tmp()) == []
    store(cache, key, tmp_path)
    assert cache.lookup(key) is not None


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from buildrunner.build.cache import TaskCache
    from buildrunner.parallel.plan import parse_plan
    from buildrunner.store.db import Store

    root, go = Path(sys.argv[1]), Path(sys.argv[2])
    plan = parse_plan(sys.argv[3])
    cache = TaskCache(Store(root).connect(), root / ".buildrunner" / "cache", environ={})
    key = cache.key(plan.task("gen"), plan=plan, workdir=root)
    while not go.exists():
        time.sleep(0.005)
    for _ in range(15):
        assert cache.store(key, workdir=root, log_path=None, cost_usd=0, duration_s=0,
                           session_id=sys.argv[4]).stored
        assert cache.lookup(key) is not None
    print(key.digest)
""")


def test_two_sessions_writing_one_key_at_once(tmp_path: Path) -> None:
    prepare(tmp_path, big=True)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(go), PLAN, f"s{n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    time.sleep(0.5)  # both have started and computed their key
    go.write_text("go")
    outputs = [writer.communicate(timeout=120) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    digests = {stdout.strip() for stdout, _ in outputs}
    assert len(digests) == 1
    cache, key = key_and_cache(tmp_path)
    assert key.digest in digests
    assert cache.conn.execute("SELECT COUNT(*) FROM task_cache").fetchone()[0] == 1
    entry = cache.lookup(key)
    assert entry is not None and entry.session_id in {"s0", "s1"}
    assert_blobs_sound(cache)
    assert list(cache.dir.iter_tmp()) == []
    (tmp_path / "out/big.bin").unlink()
    assert cache.restore(entry, tmp_path).restored


def test_a_shared_folder_serves_another_project(tmp_path: Path) -> None:
    shared = tmp_path / "team-cache"
    first, second = tmp_path / "alice", tmp_path / "bob"
    prepare(first)
    write(second, "gen.sh", "v1")
    cache_a, key_a = key_and_cache(first, cache_dir=shared, environ={"CI": "1"})
    store(cache_a, key_a, first)
    cache_b, key_b = key_and_cache(second, cache_dir=shared, environ={"CI": "1"})
    assert key_b.digest == key_a.digest  # same salt, same relative inputs
    assert cache_b.entries() == []  # bob's store has never seen it
    entry = cache_b.lookup(key_b)
    assert entry is not None and entry.parts.task_id == "gen"
    assert cache_b.restore(entry, second).restored
    assert (second / "out/small.txt").read_text() == "small"
    assert [item.key for item in cache_b.entries()] == [key_a.digest]


def test_an_unusable_cache_folder_is_one_clear_error(tmp_path: Path) -> None:
    from buildrunner.build.cache_store import CacheFolderError

    write(tmp_path, "gen.sh", "v1")
    blocker = write(tmp_path, "not-a-folder", "a file where the cache folder should be")
    cache = make_cache(tmp_path, cache_dir=blocker)
    plan = plan_of(PLAN)
    with pytest.raises(CacheFolderError, match="not-a-folder is not usable"):
        cache.key(plan.task("gen"), plan=plan, workdir=tmp_path)
