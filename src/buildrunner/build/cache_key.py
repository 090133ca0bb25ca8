"""Cache keys: a hash of everything that determines a task's result, with the parts kept.

The parts are kept beside each cache entry so that a miss can be explained (`br cache why`).
Environment values are never kept: each is an HMAC-SHA256 under the cache folder's own salt, so a
shared cache gives equal keys on every machine while a leaked manifest cannot be checked against a
precomputed table of secrets. Command and prompt text is masked (secrets) when it is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildrunner.build.hashing import FileHasher, Found, expand_patterns, sha256_bytes
from buildrunner.executors.workspace import FileScope
from buildrunner.parallel.plan import Plan, TaskSpec

FORMAT_VERSION = 1  # bump when what goes into a key changes: every key changes with it
UNSET = "unset"  # an env variable named in `cache_env:` that is not set
MISSING = "missing"  # an exact input path that does not exist
NO_OUTPUTS = "ran"  # a dependency without a key and without declared files: it only orders


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class KeyParts:
    """What went into a cache key (kept, masked, so that a miss can be explained)."""

    task_id: str
    kind: str  # command | agent
    text: str  # the command or the prompt (masked when read back from a stored entry)
    route: tuple[str, ...] = ()  # agent tasks: the models of the ladder, in order
    checks: tuple[str, ...] = ()  # agent tasks: acceptance checks
    options: tuple[tuple[str, str], ...] = ()  # agent tasks: settings that change what it may do
    cwd: str = ""
    outputs: tuple[str, ...] = ()  # declared `files:` (what is stored)
    input_patterns: tuple[str, ...] = ()  # declared `inputs:`
    inputs: tuple[tuple[str, str], ...] = ()  # relative path -> content hash (or 'missing')
    env: tuple[tuple[str, str], ...] = ()  # name -> keyed hash of the value (or 'unset')
    dependencies: tuple[tuple[str, str], ...] = ()  # task id -> its key (or outputs digest)
    format_version: int = FORMAT_VERSION
    text_sha256: str = field(default="")  # of the unmasked text; computed when not given

    def __post_init__(self) -> None:
        if not self.text_sha256:
            object.__setattr__(self, "text_sha256", sha256_bytes(self.text.encode()))

    def digest(self) -> str:
        """The cache key: SHA-256 of the canonical JSON of every part (the text by its hash)."""
        data = self._fields()
        data["text"] = self.text_sha256
        return sha256_bytes(canonical_json(data))

    def _fields(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "task_id": self.task_id,
            "kind": self.kind,
            "route": list(self.route),
            "checks": list(self.checks),
            "options": dict(self.options),
            "cwd": self.cwd,
            "outputs": list(self.outputs),
            "input_patterns": list(self.input_patterns),
            "inputs": dict(self.inputs),
            "env": dict(self.env),
            "dependencies": dict(self.dependencies),
        }

    def to_record(self) -> dict[str, Any]:
        """The parts as stored: text and checks masked, env values only as keyed hashes."""
        from buildrunner.security.masking import mask_text

        record = self._fields()
        record["text"] = mask_text(self.text)
        record["text_sha256"] = self.text_sha256
        record["checks"] = [mask_text(check) for check in self.checks]
        return record

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> KeyParts:
        """Parts read back from a stored manifest; ValueError when malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("key parts are not an object")
        return cls(
            task_id=_text(data, "task_id"),
            kind=_text(data, "kind"),
            text=_text(data, "text"),
            text_sha256=_text(data, "text_sha256"),
            route=_texts(data, "route"),
            checks=_texts(data, "checks"),
            options=_pairs(data, "options"),
            cwd=_text(data, "cwd"),
            outputs=_texts(data, "outputs"),
            input_patterns=_texts(data, "input_patterns"),
            inputs=_pairs(data, "inputs"),
            env=_pairs(data, "env"),
            dependencies=_pairs(data, "dependencies"),
            format_version=_integer(data, "format_version"),
        )


@dataclass(frozen=True)
class CacheKey:
    """A task's cache key and the parts it was computed from."""

    digest: str
    parts: KeyParts
    plan_name: str | None = None

    @property
    def short(self) -> str:
        return self.digest[:12]


def is_cacheable(task: TaskSpec) -> bool:
    """Agent tasks by default; command tasks when they declare inputs or say `cache: true`."""
    if task.cache is not None:
        return task.cache
    return task.kind == "agent" or bool(task.inputs)


def uncacheable_reason(task: TaskSpec) -> str:
    """Why `is_cacheable(task)` is False, in one line."""
    if task.cache is False:
        return "not cached: the task says cache: false"
    return "not cached: a command task is cached only when it declares inputs: or says cache: true"


def resolved_checks(task: TaskSpec, plan: Plan) -> tuple[str, ...]:
    """An agent task's checks: its own, else the plan's default; command tasks have none."""
    if task.kind != "agent":
        return ()
    return tuple(task.check if task.check is not None else plan.check or ())


def env_digest(salt: bytes, name: str, value: str | None) -> str:
    """A keyed hash of one variable's value (the value itself is never kept)."""
    if value is None:
        return UNSET
    message = name.encode() + b"\0" + value.encode("utf-8", "surrogateescape")
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def env_digests(
    task: TaskSpec, plan: Plan, environ: Mapping[str, str], salt: bytes
) -> tuple[tuple[str, str], ...]:
    """The variables the task sees that are part of its key: plan and task `env:`, `cache_env:`."""
    values: dict[str, str | None] = {name: environ.get(name) for name in plan.cache_env}
    values.update(plan.env)
    values.update(task.env)
    return tuple(sorted((name, env_digest(salt, name, value)) for name, value in values.items()))


def content_digests(found: Mapping[str, Found], hasher: FileHasher) -> tuple[tuple[str, str], ...]:
    """(relative path, content hash) for each found path, sorted; 'missing' for absent ones."""
    result = []
    for relative in sorted(found):
        item = found[relative]
        digest = None if item.kind == "missing" else hasher.digest(item.path, item.info)
        result.append((relative, digest or MISSING))
    return tuple(result)


def outputs_digest(found: Mapping[str, Found], hasher: FileHasher) -> str:
    """A stand-in key for a dependency that has none: the content of its declared files now."""
    if not found:
        return NO_OUTPUTS
    return "outputs:" + sha256_bytes(canonical_json(dict(content_digests(found, hasher))))


def key_parts(
    task: TaskSpec,
    plan: Plan,
    *,
    inputs: tuple[tuple[str, str], ...],
    env: tuple[tuple[str, str], ...],
    dependencies: Mapping[str, str],
    route: Sequence[str],
    checks: Sequence[str],
) -> KeyParts:
    """The key parts of one task from its spec and what was measured for it."""
    agent = task.kind == "agent"
    options = (
        (("allow_commands", str(task.allow_commands).lower()), ("max_turns", str(task.max_turns)))
        if agent
        else ()
    )
    return KeyParts(
        task_id=task.id,
        kind=task.kind,
        text=(task.run if task.run is not None else task.prompt) or "",
        route=tuple(route) if agent else (),
        checks=tuple(checks) if agent else (),
        options=options,
        cwd=normal_cwd(task.cwd),
        outputs=tuple(task.files),
        input_patterns=tuple(task.inputs),
        inputs=inputs,
        env=env,
        dependencies=tuple(sorted(dependencies.items())),
        format_version=FORMAT_VERSION,
    )


def normal_cwd(cwd: str | None) -> str:
    """A task's `cwd` as kept in its key: POSIX, normalised, '' for the working folder itself."""
    if not cwd:
        return ""
    normal = posixpath.normpath(cwd.replace("\\", "/"))
    return "" if normal == "." else normal


class KeyMaker:
    """Computes task keys, hashing files through one stat cache."""

    def __init__(
        self, hasher: FileHasher, salt: Callable[[], bytes], environ: Mapping[str, str]
    ) -> None:
        self.hasher = hasher
        self.salt = salt  # asked for only when a key is made (it may create the cache folder)
        self.environ = environ
        self._roots: dict[Path, str] = {}

    def key(
        self,
        task: TaskSpec,
        *,
        plan: Plan,
        workdir: Path,
        dependency_keys: Mapping[str, str],
        route: Sequence[str],
        checks: Sequence[str] | None,
    ) -> CacheKey | None:
        """See TaskCache.key."""
        if not is_cacheable(task):
            return None
        dependencies = {}
        for dep_id in task.depends_on:
            if dependency_keys.get(dep_id):
                dependencies[dep_id] = dependency_keys[dep_id]
            else:
                dep = plan.task(dep_id)
                found = expand_patterns(self.task_dir(workdir, dep.cwd), dep.files)
                dependencies[dep_id] = outputs_digest(found, self.hasher)
        parts = key_parts(
            task,
            plan,
            inputs=self.input_digests(self.task_dir(workdir, task.cwd), task.inputs, task.files),
            env=env_digests(task, plan, self.environ, self.salt()),
            dependencies=dependencies,
            route=route,
            checks=resolved_checks(task, plan) if checks is None else checks,
        )
        self.hasher.flush()
        return CacheKey(parts.digest(), parts, plan.name)

    def input_digests(
        self, task_dir: str, inputs: Sequence[str], outputs: Sequence[str]
    ) -> tuple[tuple[str, str], ...]:
        """Content of the declared inputs, less the task's own outputs.

        An output is not an input of its own result: a restore brings it back, and one that
        someone changed since br left it stops the restore (the task runs instead).
        """
        scope = FileScope.from_files(outputs)
        found = {
            relative: item
            for relative, item in expand_patterns(task_dir, inputs).items()
            if not scope.allows(relative)
        }
        return content_digests(found, self.hasher)

    def task_dir(self, workdir: Path, cwd: str | None) -> str:
        """The absolute folder a task runs in (its `cwd` inside the session's working folder)."""
        root = self._roots.get(workdir)
        if root is None:
            root = self._roots[workdir] = str(workdir.resolve())
            self.hasher.preload(root)
        return os.path.normpath(os.path.join(root, cwd)) if cwd else root


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ValueError(f"'{name}' is not text")
    return value


def _integer(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"'{name}' is not a whole number")
    return value


def _texts(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"'{name}' is not a list of text")
    return tuple(value)


def _pairs(data: Mapping[str, Any], name: str) -> tuple[tuple[str, str], ...]:
    value = data.get(name, {})
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise ValueError(f"'{name}' is not a table of text")
    return tuple(sorted(value.items()))
