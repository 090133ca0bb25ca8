"""The task cache: a task whose inputs are unchanged is not run again; its outputs are restored.

How a build uses it (docs/CACHE.md has the whole story):

    cache = open_task_cache(conn, store.root, settings.cache)
    answer = cache.restore_if_cached(task, plan=plan, workdir=workdir, dependency_keys=keys,
                                     route=ladder, checks=checks, log_path=log)
    if answer.hit: ...report `cached`, saved answer.entry.cost_usd...
    else: ...print answer.reason (--explain), run the task, and if it succeeded:
          cache.store(answer.key, workdir=workdir, log_path=log, cost_usd=..., duration_s=...,
                      session_id=...)

Only succeeded (command) or accepted (agent) runs may be stored: `store` trusts its caller.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.build.cache_entry import CacheEntry
from buildrunner.build.cache_explain import Change, compare_parts, explain_miss
from buildrunner.build.cache_index import CacheError, CacheIndex
from buildrunner.build.cache_key import CacheKey, KeyMaker, uncacheable_reason
from buildrunner.build.cache_prune import PruneResult, forget_missing_files, prune_cache
from buildrunner.build.cache_restore import RestoreResult, apply_restore, plan_restore, replay_log
from buildrunner.build.cache_store import CacheDir, CorruptBlobError, NotStorableError, put_outputs
from buildrunner.build.hashing import FileHasher, link_digest
from buildrunner.errors import StoreError
from buildrunner.parallel.plan import Plan, TaskSpec, topological_order

if TYPE_CHECKING:
    from buildrunner.config import CacheSettings

LOW_WATER = 0.9  # an automatic prune frees down to this share of max_bytes


@dataclass(frozen=True)
class StoreResult:
    stored: bool
    entry: CacheEntry | None = None
    reason: str | None = None  # one line, when not stored
    new_bytes: int = 0  # blob bytes written (content already in the cache is not written again)


@dataclass(frozen=True)
class CacheOutcome:
    """The cache's answer for a task about to start (see TaskCache.restore_if_cached)."""

    key: CacheKey | None  # store the run's result under it if it succeeds (None: not cacheable)
    entry: CacheEntry | None = None  # a hit: restored; its cost_usd and duration_s were saved
    restore: RestoreResult | None = None
    reason: str = ""  # a miss: why the task runs, one line (`br run --explain`)

    @property
    def hit(self) -> bool:
        return self.entry is not None


class TaskCache:
    """Keys, lookups, restores and stores of task results, for one project store."""

    def __init__(
        self, conn: sqlite3.Connection, cache_dir: Path, *, max_bytes: int | None = None,
        clock: Callable[[], float] = time.time, environ: Mapping[str, str] | None = None,
    ) -> None:
        self.conn = conn
        self.index = CacheIndex(conn)
        self.hasher = FileHasher(conn)
        self.dir = CacheDir(Path(cache_dir), self.hasher)
        self.max_bytes = max_bytes
        self.clock = clock
        self.keys = KeyMaker(self.hasher, self.dir.salt, os.environ if environ is None else environ)
        self._problems: dict[str, str] = {}  # key -> why its entry was dropped (for changes())
        self._size: int | None = None  # bytes of blobs, estimated between prunes

    # -- keys -----------------------------------------------------------------------------
    def key(
        self, task: TaskSpec, *, plan: Plan, workdir: Path,
        dependency_keys: Mapping[str, str] | None = None, route: Sequence[str] = (),
        checks: Sequence[str] | None = None,
    ) -> CacheKey | None:
        """The task's cache key now, or None when it is not cacheable.

        `workdir` is the session's working folder (the task's `cwd` is taken inside it).
        `dependency_keys` maps a dependency's id to its key digest; a dependency that is not in
        it (it had no key) counts by the content of its declared `files:` as they are now.
        `checks` defaults to the task's (or the plan's) `check:`.
        """
        return self.keys.key(
            task, plan=plan, workdir=workdir, dependency_keys=dependency_keys or {}, route=route,
            checks=checks,
        )

    def plan_keys(
        self, plan: Plan, workdir: Path, *, routes: Mapping[str, Sequence[str]] | None = None,
        only: str | None = None,
    ) -> dict[str, CacheKey | None]:
        """Keys of every task (or of `only` and what it depends on), dependencies first.

        An agent task's route is taken from `routes`, else from its last cached run.
        """
        tasks = {task.id: task for task in plan.tasks}
        needed = set(tasks) if only is None else _with_ancestors(tasks, only)
        keys: dict[str, CacheKey | None] = {}
        for task_id in topological_order(plan):
            if task_id not in needed:
                continue
            task = tasks[task_id]
            route = (routes or {}).get(task_id)
            if route is None:
                route = self._last_route(task, plan)
            dependency_keys = {dep: key.digest for dep in task.depends_on if (key := keys.get(dep))}
            keys[task_id] = self.key(
                task, plan=plan, workdir=workdir, dependency_keys=dependency_keys, route=route
            )
        return keys

    # -- lookup, restore, store -----------------------------------------------------------
    def restore_if_cached(
        self, task: TaskSpec, *, plan: Plan, workdir: Path, dependency_keys: Mapping[str, str],
        route: Sequence[str] = (), checks: Sequence[str] | None = None,
        log_path: Path | None = None,
    ) -> CacheOutcome:
        """Key, look up and restore in one call: a hit, or the key to store under and why not."""
        key = self.key(task, plan=plan, workdir=workdir, dependency_keys=dependency_keys,
                       route=route, checks=checks)
        if key is None:
            return CacheOutcome(None, reason=uncacheable_reason(task))
        entry = self.lookup(key)
        if entry is None:
            return CacheOutcome(key, reason=explain_miss(self.changes(key)))
        result = self.restore(entry, workdir, log_path=log_path)
        if not result.restored:
            return CacheOutcome(key, restore=result, reason=result.reason or "not restored")
        return CacheOutcome(key, entry=entry, restore=result)

    def lookup(self, key: CacheKey) -> CacheEntry | None:
        """The entry of `key` with every blob present and verified; None on a miss."""
        try:
            entry = self._load(key.digest)
            if entry is None:
                return None
            bad = next(
                (
                    (output.path, output.sha256) for output in entry.outputs
                    if output.sha256 and not self.dir.blob_ok(output.sha256, output.size)
                ),
                None,
            )
            if bad is None and entry.log_sha256 and not self.dir.blob_ok(entry.log_sha256, entry.log_size):
                bad = ("the log", entry.log_sha256)
            self.hasher.flush()
        except (OSError, StoreError):
            return None
        if bad is not None:
            self._drop(entry, f"the cached copy of {bad[0]} is missing or corrupt", bad[1])
            return None
        return entry

    def restore(self, entry: CacheEntry, workdir: Path, *, log_path: Path | None = None) -> RestoreResult:
        """Bring the task's outputs to the cached state and replay its log.

        Refuses, writing nothing, when an output would overwrite a file changed by someone else
        since br left it (`clobbers`), or when a blob turns out corrupt (the entry is dropped).
        """
        task_dir = self.keys.task_dir(workdir, entry.parts.cwd)
        try:
            plan = plan_restore(entry, task_dir, self.hasher, self.index.known_outputs)
        except OSError as exc:
            return RestoreResult(False, reason=f"cannot read the outputs: {exc.strerror or exc}")
        if plan.unsafe:
            return RestoreResult(False, reason=f"cached output '{plan.unsafe[0]}' leaves the task's folder")
        if plan.clobbers:
            names = ", ".join(plan.clobbers[:3]) + (", ..." if len(plan.clobbers) > 3 else "")
            return RestoreResult(
                False, clobbers=tuple(plan.clobbers),
                reason=f"would overwrite {len(plan.clobbers)} output(s) changed since br wrote them: {names}",
            )
        try:
            if entry.log_sha256 and log_path is not None and not self.dir.blob_ok(entry.log_sha256):
                raise CorruptBlobError("the cached log is corrupt")
            changed = apply_restore(plan, self.dir)
            if log_path is not None:
                replay_log(entry, self.dir, str(log_path))
        except CorruptBlobError as exc:
            self._drop(entry, str(exc), None)
            return RestoreResult(False, reason=f"{exc}; the entry was dropped", corrupt=True)
        except OSError as exc:
            return RestoreResult(False, reason=f"cannot restore: {exc.strerror or exc}")
        now = self.clock()
        left = [(target, output.sha256 or link_digest(output.link or ""))
                for output, target in plan.writes + plan.links]
        self.index.record_outputs(entry.task_id, left + plan.unchanged,
                                  [target for _, target in plan.deletes], now, used=entry.key)
        self.dir.touch_manifest(entry.key, now)
        self.hasher.flush()
        return RestoreResult(
            True, written=tuple(changed), deleted=tuple(relative for relative, _ in plan.deletes),
            unchanged=plan.same,
            log_path=str(log_path) if log_path is not None and entry.log_sha256 else None,
        )

    def store(
        self, key: CacheKey, *, workdir: Path, log_path: Path | None, cost_usd: Decimal | float,
        duration_s: float, session_id: str | None, files: Sequence[str] | None = None,
    ) -> StoreResult:
        """Store the outputs (`files`, default the task's declared files) and log of a good run.

        Call it only for a succeeded command task or an accepted agent task: failed, rejected
        and cancelled runs must never be stored. Blobs are written first, then the manifest
        file, then the store row in one transaction; a kill at any point leaves no entry that
        a later run would trust without verifying every blob.
        """
        task_dir = self.keys.task_dir(workdir, key.parts.cwd)
        moved = self._inputs_moved(key, task_dir)
        if moved:
            return StoreResult(False, reason=f"input {moved} changed while the task ran: not stored")
        try:
            outputs, new_bytes = put_outputs(
                self.dir, task_dir, key.parts.outputs if files is None else files
            )
            log_sha, log_size = None, 0
            if log_path is not None and os.path.isfile(log_path):
                log_sha, log_size, fresh = self.dir.put_file(str(log_path))
                new_bytes += log_size if fresh else 0
        except NotStorableError as exc:
            return StoreResult(False, reason=str(exc))
        except OSError as exc:
            return StoreResult(False, reason=f"cannot store the outputs: {exc.strerror or exc}")
        now = self.clock()
        entry = CacheEntry(
            key=key.digest, parts=key.parts, outputs=tuple(outputs), log_sha256=log_sha,
            log_size=log_size, cost_usd=Decimal(str(cost_usd)), duration_s=duration_s,
            session_id=session_id, plan_name=key.plan_name, created_at=now, last_used_at=now,
        )
        manifest = entry.to_manifest()
        try:
            self.dir.write_manifest(key.digest, manifest, now)
        except OSError as exc:
            return StoreResult(False, reason=f"cannot write the manifest: {exc.strerror or exc}")
        self.index.put(entry, manifest)
        self.index.record_outputs(
            entry.task_id,
            [(os.path.join(task_dir, o.path), o.sha256 or link_digest(o.link or ""))
             for o in outputs if not o.deleted],
            [os.path.join(task_dir, o.path) for o in outputs if o.deleted], now,
        )
        self._problems.pop(key.digest, None)
        self._after_store(new_bytes)
        return StoreResult(True, entry=entry, new_bytes=new_bytes)

    def _inputs_moved(self, key: CacheKey, task_dir: str) -> str | None:
        """An input whose content is not what the key was computed from (the run may have read
        either version: its result cannot be filed under that key)."""
        before = dict(key.parts.inputs)
        after = dict(self.keys.input_digests(task_dir, key.parts.input_patterns, key.parts.outputs))
        self.hasher.flush()
        return next((path for path in sorted(before.keys() | after.keys())
                     if before.get(path) != after.get(path)), None)

    # -- explain --------------------------------------------------------------------------
    def changes(self, key: CacheKey) -> list[Change]:
        """What changed since the task's last cached run ([] when `key` itself is cached)."""
        if key.digest in self._problems:
            return [Change("corrupt", detail=self._problems[key.digest])]
        if self.index.has(key.digest):
            return []
        last = self.index.last_entry(key.parts.task_id, key.plan_name)
        if last is None:
            return [Change("new", detail="no earlier cached run of this task")]
        return compare_parts(last.parts, key.parts)

    def why(
        self, task: TaskSpec, *, plan: Plan, workdir: Path,
        dependency_keys: Mapping[str, str] | None = None, route: Sequence[str] | None = None,
        checks: Sequence[str] | None = None,
    ) -> list[Change]:
        """What changed for `task` since its last cached run.

        Without `dependency_keys` the dependencies are keyed as a run would key them; without
        `route` an agent task keeps the route of its last cached run.
        """
        key = self.current_key(
            task, plan=plan, workdir=workdir, dependency_keys=dependency_keys, route=route,
            checks=checks,
        )
        if key is None:
            return [Change("uncacheable", detail=uncacheable_reason(task))]
        return self.changes(key)

    def current_key(
        self, task: TaskSpec, *, plan: Plan, workdir: Path,
        dependency_keys: Mapping[str, str] | None = None, route: Sequence[str] | None = None,
        checks: Sequence[str] | None = None,
    ) -> CacheKey | None:
        """`key()` with the dependencies and route filled in as `why` does."""
        if dependency_keys is None:
            keys = self.plan_keys(plan, workdir, only=task.id)
            dependency_keys = {dep: key.digest for dep in task.depends_on if (key := keys.get(dep))}
        if route is None:
            route = self._last_route(task, plan)
        return self.key(
            task, plan=plan, workdir=workdir, dependency_keys=dependency_keys, route=route,
            checks=checks,
        )

    def _last_route(self, task: TaskSpec, plan: Plan) -> tuple[str, ...]:
        last = self.index.last_entry(task.id, plan.name) if task.kind == "agent" else None
        return last.parts.route if last else ()

    # -- listing and pruning --------------------------------------------------------------
    def entries(self, task_id: str | None = None) -> list[CacheEntry]:
        """Entries in this project's store, oldest first (optionally of one task)."""
        return self.index.entries(task_id)

    def find(self, prefix: str) -> CacheEntry:
        """The entry whose key starts with `prefix` (at least 4 hex digits); CacheError if none."""
        return self.index.find(prefix)

    def forget_missing_files(self) -> int:
        """Drop stat-cache and known-output rows of files that are gone (removed worktrees)."""
        return forget_missing_files(self.hasher, self.index, self.clock())

    def prune(self, *, older_than_s: float | None = None, max_bytes: int | None = None) -> PruneResult:
        """Remove entries unused for `older_than_s`, then least recently used ones above `max_bytes`."""
        result = prune_cache(
            self.index, self.dir, now=self.clock(), older_than_s=older_than_s, max_bytes=max_bytes
        )
        self._size = result.kept_bytes
        return result

    # -- internals ------------------------------------------------------------------------
    def _load(self, digest: str) -> CacheEntry | None:
        try:
            entry = self.index.get(digest)
        except ValueError:
            self._forget(digest, "its manifest in the store is unreadable")
            return None
        if entry is not None:
            return entry
        data = self.dir.read_manifest(digest)
        if data is None:
            return None
        try:  # an entry another machine (or project) stored in a shared folder
            entry = CacheEntry.from_manifest(data, key=digest)
        except ValueError as exc:
            self._forget(digest, f"its manifest file is unreadable ({exc})")
            return None
        self.index.put(entry, data, replace=False)
        return entry

    def _drop(self, entry: CacheEntry, reason: str, blob: str | None) -> None:
        """Forget an entry that cannot be restored (and a blob that failed its hash)."""
        if blob is not None:
            self.dir.remove_blob(blob)
        self._forget(entry.key, reason)

    def _forget(self, digest: str, reason: str) -> None:
        self._problems[digest] = reason
        self.dir.remove_manifest(digest)
        self.index.remove([digest])

    def _after_store(self, new_bytes: int) -> None:
        if self.max_bytes is None:
            return
        if self._size is None:
            self._size = sum(size for _sha, _path, size, _mtime in self.dir.iter_blobs())
        else:
            self._size += new_bytes
        if self._size > self.max_bytes:
            self.prune(max_bytes=int(self.max_bytes * LOW_WATER))


def open_task_cache(conn: sqlite3.Connection, root: Path, settings: CacheSettings) -> TaskCache:
    """The project's task cache as configured (`[cache] dir` relative to the project root)."""
    folder = Path(settings.dir).expanduser()
    return TaskCache(conn, folder if folder.is_absolute() else root / folder, max_bytes=settings.max_bytes)


def _with_ancestors(tasks: Mapping[str, TaskSpec], task_id: str) -> set[str]:
    if task_id not in tasks:
        raise CacheError(f"the plan has no task '{task_id}'")
    found, pending = set(), [task_id]
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(tasks[current].depends_on)
    return found
