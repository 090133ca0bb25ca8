"""The cache folder: content-addressed blobs and manifest files, written atomically.

Layout under the cache folder (`[cache] dir`, default `.buildrunner/cache`):
`blobs/ab/cdef...` (content named by its SHA-256), `manifests/ab/cdef....json` (one per cache key,
so that another machine sharing the folder can find it), `tmp/` (files being written), `salt`
(the key of the env hashes). Every file is written to a temporary name on the same filesystem and
renamed into place, so a reader never sees half a file; a blob is verified by its hash when it is
used, so a torn or altered blob is a miss, never a wrong restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from buildrunner.build.cache_entry import Output, safe_link
from buildrunner.build.hashing import CHUNK, FileHasher, expand_patterns
from buildrunner.errors import BuildRunnerError

_FILE_MODE = 0o666  # the umask decides: a shared folder may need group-readable files


class CorruptBlobError(Exception):
    """A blob is missing or its content does not match its name."""


class CacheFolderError(BuildRunnerError):
    """The cache folder cannot be read or written (a bad `[cache] dir`)."""


class NotStorableError(Exception):
    """A run's outputs cannot be cached (the run itself was fine)."""


class CacheDir:
    """Blobs and manifests of one cache folder (possibly shared between machines)."""

    def __init__(self, root: Path, hasher: FileHasher) -> None:
        self.root = root
        self.hasher = hasher
        self.blobs = os.path.join(root, "blobs")
        self.manifests = os.path.join(root, "manifests")
        self.tmp = os.path.join(root, "tmp")
        self._salt: bytes | None = None
        self._ready = False

    def ensure(self) -> None:
        if self._ready:
            return
        for folder in (self.blobs, self.manifests, self.tmp):
            os.makedirs(folder, exist_ok=True)
        self._ready = True

    # -- salt -----------------------------------------------------------------------------
    def salt(self) -> bytes:
        """The key of the env hashes, made once per cache folder (first writer wins).

        Raises CacheFolderError when the folder can neither give nor take one.
        """
        if self._salt is None:
            path = os.path.join(self.root, "salt")
            try:
                self._salt = self._read_or_make_salt(path)
            except OSError as exc:
                raise CacheFolderError(
                    f"cache folder {self.root} is not usable: {exc.strerror or exc}"
                ) from None
            if len(self._salt) < 32:
                raise CacheFolderError(
                    f"cache salt {path} is damaged; delete it (the cache starts afresh)"
                )
        return self._salt

    def _read_or_make_salt(self, path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            pass
        self.ensure()
        fd, temp = self._temp(self.tmp)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
        with suppress(FileExistsError):
            os.link(temp, path)  # atomic create-if-absent: a concurrent first writer wins
        os.unlink(temp)
        with open(path, "rb") as handle:
            return handle.read()

    # -- blobs ----------------------------------------------------------------------------
    def blob_path(self, sha: str) -> str:
        return os.path.join(self.blobs, sha[:2], sha[2:])

    def blob_ok(self, sha: str, size: int | None = None) -> bool:
        """The blob exists and hashes to its name (stat cache: unchanged blobs are not re-read)."""
        path = self.blob_path(sha)
        try:
            info = os.lstat(path)
        except OSError:
            return False
        if size is not None and info.st_size != size:
            return False
        return self.hasher.digest(path, info) == sha

    def put_file(self, source: str) -> tuple[str, int, bool]:
        """Copy a file into the store: (sha256, size, whether a new blob was written)."""
        self.ensure()
        fd, temp = self._temp(self.tmp)
        try:
            sha, size = _copy_hashing(source, fd)
            if self.blob_ok(sha, size):
                os.unlink(temp)
                return sha, size, False
            os.makedirs(os.path.dirname(self.blob_path(sha)), exist_ok=True)
            os.replace(temp, self.blob_path(sha))
            return sha, size, True
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise

    def copy_blob(self, sha: str, folder: str) -> str:
        """A verified copy of a blob in a temporary file inside `folder`; its path.

        Raises CorruptBlobError (and leaves nothing behind) when the content is not `sha`.
        """
        fd, temp = self._temp(folder)
        try:
            copied, _size = _copy_hashing(self.blob_path(sha), fd)
        except FileNotFoundError:
            os.unlink(temp)
            raise CorruptBlobError(f"blob {sha[:12]} is missing") from None
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise
        if copied != sha:
            os.unlink(temp)
            raise CorruptBlobError(f"blob {sha[:12]} does not match its hash")
        return temp

    def remove_blob(self, sha: str) -> None:
        with suppress(OSError):  # best effort: a read-only shared folder keeps it
            os.unlink(self.blob_path(sha))

    def iter_blobs(self) -> Iterator[tuple[str, str, int, float]]:
        """(sha, path, size, mtime) of every blob."""
        yield from _iter_two_level(self.blobs, "")

    # -- manifests ------------------------------------------------------------------------
    def manifest_path(self, key: str) -> str:
        return os.path.join(self.manifests, key[:2], key[2:] + ".json")

    def write_manifest(self, key: str, data: dict[str, Any], used_at: float | None = None) -> None:
        """Write a manifest file atomically; its mtime is the entry's last use."""
        self.ensure()
        folder = os.path.dirname(self.manifest_path(key))
        os.makedirs(folder, exist_ok=True)
        fd, temp = self._temp(self.tmp)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
            if used_at is not None:
                os.utime(temp, (used_at, used_at))
            os.replace(temp, self.manifest_path(key))
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise

    def read_manifest(self, key: str) -> Any | None:
        """The parsed manifest file of `key`, or None when absent or unreadable."""
        try:
            with open(self.manifest_path(key), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def touch_manifest(self, key: str, used_at: float) -> None:
        """Mark an entry used (other machines sharing the folder prune by this time)."""
        with suppress(OSError):
            os.utime(self.manifest_path(key), (used_at, used_at))

    def remove_manifest(self, key: str) -> None:
        with suppress(OSError):  # best effort: a read-only shared folder keeps it
            os.unlink(self.manifest_path(key))

    def iter_manifests(self) -> Iterator[tuple[str, str, float]]:
        """(key, path, mtime) of every manifest file."""
        for key, path, _size, mtime in _iter_two_level(self.manifests, ".json"):
            yield key, path, mtime

    # -- temporary files ------------------------------------------------------------------
    def _temp(self, folder: str) -> tuple[int, str]:
        """A new file opened for writing in `folder` (same filesystem as its final place)."""
        while True:
            path = os.path.join(folder, f".br-tmp-{secrets.token_hex(8)}")
            try:
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE), path
            except FileExistsError:
                continue

    def iter_tmp(self) -> Iterator[tuple[str, float]]:
        """(path, mtime) of files left in tmp/ (by writers that were killed, or still writing)."""
        with suppress(FileNotFoundError), os.scandir(self.tmp) as entries:
            for entry in entries:
                with suppress(FileNotFoundError):
                    yield entry.path, entry.stat(follow_symlinks=False).st_mtime


def _copy_hashing(source: str, fd: int) -> tuple[str, int]:
    """Copy a file into the open file `fd` (closed after), hashing on the way: (sha256, size)."""
    digest, size = hashlib.sha256(), 0
    try:
        reader = os.open(source, os.O_RDONLY)
        try:
            while chunk := os.read(reader, CHUNK):
                digest.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            os.close(reader)
    finally:
        os.close(fd)
    return digest.hexdigest(), size


def _iter_two_level(top: str, suffix: str) -> Iterator[tuple[str, str, int, float]]:
    """(name, path, size, mtime) of files stored as top/ab/cdef<suffix>, named abcdef."""
    try:
        shards = list(os.scandir(top))
    except FileNotFoundError:
        return
    for shard in shards:
        if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
            continue
        with suppress(FileNotFoundError), os.scandir(shard.path) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.name.endswith(suffix):
                    continue
                with suppress(FileNotFoundError):
                    info = entry.stat(follow_symlinks=False)
                    name = shard.name + entry.name[: len(entry.name) - len(suffix)]
                    yield name, entry.path, info.st_size, info.st_mtime


def put_outputs(
    cache_dir: CacheDir, task_dir: str, patterns: Sequence[str]
) -> tuple[list[Output], int]:
    """Store what the declared output patterns name now: (outputs, bytes of new blobs).

    An exact path that is absent is recorded as deleted; a link is kept as a link, and refused
    (NotStorableError) when it points outside the task's folder.
    """
    outputs, new_bytes = [], 0
    for relative, found in sorted(expand_patterns(task_dir, patterns).items()):
        if found.kind == "missing":
            outputs.append(Output(relative, deleted=True))
        elif found.kind == "link":
            target = os.readlink(found.path)
            if not safe_link(relative, target):
                raise NotStorableError(f"output link '{relative}' points outside the task's folder")
            outputs.append(Output(relative, link=target))
        else:
            sha, size, fresh = cache_dir.put_file(found.path)
            new_bytes += size if fresh else 0
            mode = found.info.st_mode & 0o777 if found.info else 0o644
            outputs.append(Output(relative, sha256=sha, size=size, mode=mode))
    return outputs, new_bytes
