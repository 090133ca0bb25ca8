"""Restoring a cache entry into a task's folder without ever clobbering someone else's edit.

A restore first plans every change without writing anything. An output is overwritten (or
deleted) only when the file there now is absent, already right, or exactly what br itself left
there last (stored after a run or restored from the cache: table `cache_outputs`). Any other
content was changed by someone else since: the restore is refused before the first write and the
result names those files. Blobs are copied to temporary files next to their targets and verified
by hash; only when every copy is good are they renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from buildrunner.build.cache_entry import CacheEntry, Output
from buildrunner.build.cache_store import CacheDir, CorruptBlobError
from buildrunner.build.hashing import FileHasher, expand_patterns, link_digest


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did, or why it did nothing (then the caller runs the task)."""

    restored: bool
    written: tuple[str, ...] = ()  # relative to the task's folder
    deleted: tuple[str, ...] = ()
    unchanged: int = 0
    clobbers: tuple[str, ...] = ()  # outputs changed by someone else since br left them
    reason: str | None = None  # one line, when not restored
    corrupt: bool = False  # a blob failed its hash: the entry was dropped
    log_path: str | None = None  # where the cached log was replayed

    def to_dict(self) -> dict[str, Any]:
        return {
            "restored": self.restored,
            "written": list(self.written),
            "deleted": list(self.deleted),
            "unchanged": self.unchanged,
            "clobbers": list(self.clobbers),
            "reason": self.reason,
            "log_path": self.log_path,
        }


@dataclass
class RestorePlan:
    """The changes a restore would make, decided before anything is written."""

    writes: list[tuple[Output, str]] = field(default_factory=list)  # (output, absolute target)
    links: list[tuple[Output, str]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)  # (relative, absolute)
    chmods: list[tuple[Output, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # right, not yet recorded
    same: int = 0  # outputs already right
    clobbers: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)


def plan_restore(
    entry: CacheEntry,
    task_dir: str,
    hasher: FileHasher,
    known_outputs: Callable[[Sequence[str]], Mapping[str, str]],
) -> RestorePlan:
    """Decide every write and delete; nothing is touched.

    `known_outputs(paths)` gives what br last left at those absolute paths (path -> digest).
    """
    plan = RestorePlan()
    real_dir = os.path.realpath(task_dir)
    targets = {output.path: os.path.join(task_dir, output.path) for output in entry.outputs}
    # files now in the declared folders/globs that the cached run did not leave
    extras = [
        found
        for relative, found in expand_patterns(task_dir, entry.parts.outputs).items()
        if relative not in targets and found.kind != "missing"
    ]
    known = known_outputs([*targets.values(), *(found.path for found in extras)])
    safe_dirs: dict[str, bool] = {}
    for output in entry.outputs:
        target = targets[output.path]
        folder = os.path.dirname(target)
        if safe_dirs.setdefault(folder, _inside(real_dir, folder)) is False:
            plan.unsafe.append(output.path)
            continue
        if os.path.isdir(target) and not os.path.islink(target):
            plan.clobbers.append(output.path)  # never replace a folder with a file
            continue
        current = hasher.digest(target)
        wanted = None if output.deleted else output.sha256 or link_digest(output.link or "")
        ours = current is None or known.get(target) == current
        if current == wanted:
            if wanted is not None:
                plan.same += 1
                if known.get(target) != wanted:
                    plan.unchanged.append((target, wanted))
            if output.sha256 and _mode(target) != output.mode:
                plan.chmods.append((output, target))
        elif not ours:
            plan.clobbers.append(output.path)
        elif output.deleted:
            plan.deletes.append((output.path, target))
        elif output.link is not None:
            plan.links.append((output, target))
        else:
            plan.writes.append((output, target))
    for found in extras:  # delete only those br itself left there; anything else stays
        current = hasher.digest(found.path, found.info)
        if current is not None and known.get(found.path) == current:
            plan.deletes.append((found.relative, found.path))
    return plan


def apply_restore(plan: RestorePlan, cache_dir: CacheDir) -> list[str]:
    """Write the planned changes; raises CorruptBlobError before any target is replaced."""
    for output, _target in plan.writes:
        if not output.sha256 or not cache_dir.blob_ok(output.sha256, output.size):
            raise CorruptBlobError(
                f"blob {(output.sha256 or '?')[:12]} of {output.path} is corrupt"
            )
    temps: list[tuple[str, str, Output]] = []
    try:
        for output, target in plan.writes:
            folder = os.path.dirname(target)
            os.makedirs(folder, exist_ok=True)
            assert output.sha256 is not None
            temps.append((cache_dir.copy_blob(output.sha256, folder), target, output))
    except BaseException:
        for temp, _target, _output in temps:
            with suppress(OSError):
                os.unlink(temp)
        raise
    for temp, target, output in temps:
        os.chmod(temp, output.mode)
        os.replace(temp, target)
    for output, target in plan.chmods:
        os.chmod(target, output.mode)
    for output, target in plan.links:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temp = os.path.join(
            os.path.dirname(target), f".br-link-{os.getpid()}-{os.path.basename(target)}"
        )
        with suppress(FileNotFoundError):
            os.unlink(temp)
        os.symlink(output.link or "", temp)
        os.replace(temp, target)
    for _relative, target in plan.deletes:
        with suppress(FileNotFoundError):
            os.unlink(target)
    return [output.path for output, _ in plan.writes + plan.links + plan.chmods]


def replay_log(entry: CacheEntry, cache_dir: CacheDir, log_path: str) -> None:
    """Copy the cached run's log to the new attempt's log path (verified, atomic)."""
    if not entry.log_sha256:
        return
    folder = os.path.dirname(log_path) or "."
    os.makedirs(folder, exist_ok=True)
    os.replace(cache_dir.copy_blob(entry.log_sha256, folder), log_path)


def _inside(real_root: str, folder: str) -> bool:
    """True if `folder` (which may not exist yet) resolves inside `real_root`."""
    real = os.path.realpath(folder)
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def _mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return -1
