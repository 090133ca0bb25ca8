"""Declared path patterns and the stat cache of content hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from buildrunner.build.hashing import FileHasher, expand_patterns, link_digest
from buildrunner.store.db import Store
from tests.build.cache_helpers import backdate, write


def test_patterns_exact_folder_glob_and_missing(tmp_path: Path) -> None:
    for name in (
        "src/a.py",
        "src/pkg/b.py",
        "src/pkg/c.txt",
        "docs/x.md",
        "top.py",
        "src/__pycache__/a.pyc",
        "src/node_modules/m.js",
    ):
        write(tmp_path, name, name)
    os.symlink("a.py", tmp_path / "src" / "link.py")
    base = str(tmp_path)
    assert set(expand_patterns(base, ["src/**/*.py"])) == {
        "src/a.py",
        "src/pkg/b.py",
        "src/link.py",
    }
    assert set(expand_patterns(base, ["src/*.py"])) == {"src/a.py", "src/link.py"}
    assert set(expand_patterns(base, ["**/*.py"])) == {
        "src/a.py",
        "src/pkg/b.py",
        "src/link.py",
        "top.py",
    }
    assert set(expand_patterns(base, ["src/pkg/"])) == {"src/pkg/b.py", "src/pkg/c.txt"}
    assert set(expand_patterns(base, ["src/pkg"])) == {"src/pkg/b.py", "src/pkg/c.txt"}
    found = expand_patterns(base, ["docs/x.md", "nope.txt", "gone/"])
    assert {name: item.kind for name, item in found.items()} == {
        "docs/x.md": "file",
        "nope.txt": "missing",
        "gone": "missing",
    }
    assert expand_patterns(base, ["src/link.py"])["src/link.py"].kind == "link"
    assert set(expand_patterns(base, ["*.nothing"])) == set()
    everything = set(expand_patterns(base, ["."]))
    assert "src/__pycache__/a.pyc" not in everything and "src/node_modules/m.js" not in everything
    assert "docs/x.md" in everything


def test_digest_is_the_content_sha256_and_links_hash_their_target(tmp_path: Path) -> None:
    path = write(tmp_path, "f.bin", "content")
    os.symlink("f.bin", tmp_path / "l")
    hasher = FileHasher(Store(tmp_path).connect())
    assert hasher.digest(str(path)) == hashlib.sha256(b"content").hexdigest()
    assert hasher.digest(str(tmp_path / "l")) == link_digest("f.bin")
    assert hasher.digest(str(tmp_path / "absent")) is None
    assert hasher.digest(str(tmp_path)) is None  # a folder has no content hash


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    for index in range(20):
        write(tmp_path, f"d/{index}.txt", "x" * 1000)
    backdate(tmp_path)
    conn = Store(tmp_path).connect()
    first = FileHasher(conn)
    digests = {
        name: first.digest(item.path, item.info)
        for name, item in expand_patterns(str(tmp_path), ["d/"]).items()
    }
    first.flush()
    assert first.hashed_bytes == 20_000
    second = FileHasher(conn)  # a later run: only the stat cache in the store is shared
    second.preload(str(tmp_path))
    again = {
        name: second.digest(item.path, item.info)
        for name, item in expand_patterns(str(tmp_path), ["d/"]).items()
    }
    assert again == digests
    assert second.hashed_bytes == 0


def test_a_changed_file_is_hashed_again_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "f.txt", "aaaa")
    backdate(tmp_path)
    conn = Store(tmp_path).connect()
    hasher = FileHasher(conn)
    before = hasher.digest(str(path))
    hasher.flush()
    info = path.stat()
    path.write_text("bbbb")  # same size
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime: ctime still moves
    assert FileHasher(conn).digest(str(path)) == hashlib.sha256(b"bbbb").hexdigest() != before
    assert hasher.digest(str(path)) == hashlib.sha256(b"bbbb").hexdigest()


def test_recently_modified_files_are_not_trusted_from_the_stat_cache(tmp_path: Path) -> None:
    path = write(tmp_path, "fresh.txt", "new")  # modified just now: within the racy window
    conn = Store(tmp_path).connect()
    first = FileHasher(conn)
    first.digest(str(path))
    first.flush()
    second = FileHasher(conn)
    second.digest(str(path))
    assert second.hashed_bytes == 3  # read again: a same-tick rewrite would keep the stat
    backdate(tmp_path)
    third = FileHasher(conn)
    third.digest(str(path))
    third.flush()
    fourth = FileHasher(conn)
    fourth.digest(str(path))
    assert (third.hashed_bytes, fourth.hashed_bytes) == (3, 0)
