"""A cache entry: the manifest of one cache key (its parts, its outputs and log by content hash).

Manifests are read from the store and, for a shared cache, from files other machines wrote, so
reading one validates everything: hashes are 64 hex digits and every output path is relative,
normalised and free of `..` (a restore never writes outside the task's folder).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from buildrunner.build.cache_key import KeyParts

MANIFEST_VERSION = 1
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX64.match(value))


def safe_relative(path: object) -> bool:
    """A normalised relative POSIX path that stays inside its folder."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        return False
    return (
        not path.startswith("/")
        and posixpath.normpath(path) == path
        and ".." not in path.split("/")
    )


def safe_link(path: str, target: object) -> bool:
    """A link target that is relative and stays inside the task's folder."""
    if not isinstance(target, str) or not target or target.startswith("/") or "\x00" in target:
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return joined != ".." and not joined.startswith("../")


@dataclass(frozen=True)
class Output:
    """One declared output as the run left it: a file (by hash), a link, or deleted."""

    path: str  # relative to the task's folder
    sha256: str | None = None
    size: int = 0
    mode: int = 0o644
    link: str | None = None
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.deleted:
            return {"path": self.path, "deleted": True}
        if self.link is not None:
            return {"path": self.path, "link": self.link}
        return {"path": self.path, "sha256": self.sha256, "size": self.size, "mode": self.mode}

    @classmethod
    def from_json(cls, data: Any) -> Output:
        if not isinstance(data, dict) or not safe_relative(data.get("path")):
            raise ValueError(
                f"bad output path {data.get('path') if isinstance(data, dict) else data!r}"
            )
        path = data["path"]
        if data.get("deleted") is True:
            return cls(path, deleted=True)
        if "link" in data:
            if not safe_link(path, data["link"]):
                raise ValueError(f"link {path!r} points outside its folder")
            return cls(path, link=data["link"])
        size, mode = data.get("size"), data.get("mode")
        if not is_sha256(data.get("sha256")) or not isinstance(size, int) or size < 0:
            raise ValueError(f"bad output record for {path!r}")
        if not isinstance(mode, int) or not 0 <= mode <= 0o777:
            raise ValueError(f"bad mode for {path!r}")
        return cls(path, sha256=data["sha256"], size=size, mode=mode)


@dataclass(frozen=True)
class CacheEntry:
    """What a cache hit restores, and what the cached run cost."""

    key: str
    parts: KeyParts
    outputs: tuple[Output, ...]
    log_sha256: str | None
    log_size: int
    cost_usd: Decimal
    duration_s: float
    session_id: str | None
    plan_name: str | None
    created_at: float
    last_used_at: float = 0.0
    hits: int = 0

    @property
    def task_id(self) -> str:
        return self.parts.task_id

    @property
    def size_bytes(self) -> int:
        return sum(output.size for output in self.outputs) + self.log_size

    def blobs(self) -> set[str]:
        """Content hashes this entry needs (outputs and log)."""
        found = {output.sha256 for output in self.outputs if output.sha256}
        if self.log_sha256:
            found.add(self.log_sha256)
        return found

    def to_manifest(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "key": self.key,
            "plan_name": self.plan_name,
            "parts": self.parts.to_record(),
            "outputs": [output.to_json() for output in self.outputs],
            "log": {"sha256": self.log_sha256, "size": self.log_size} if self.log_sha256 else None,
            "cost_usd": str(self.cost_usd),
            "duration_s": self.duration_s,
            "session_id": self.session_id,
            "created_at": self.created_at,
        }

    def summary(self) -> dict[str, Any]:
        """The entry as `br cache ls` lists it."""
        return {
            "key": self.key,
            "task_id": self.task_id,
            "plan_name": self.plan_name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "hits": self.hits,
            "files": sum(1 for output in self.outputs if not output.deleted),
            "size_bytes": self.size_bytes,
            "cost_usd": float(self.cost_usd),
            "duration_s": self.duration_s,
            "session_id": self.session_id,
        }

    @classmethod
    def from_manifest(
        cls, data: Any, *, key: str | None = None, last_used_at: float = 0.0, hits: int = 0
    ) -> CacheEntry:
        """Read and validate a manifest; ValueError when it is malformed or not for `key`."""
        if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
            raise ValueError("not a manifest of this cache format")
        if not is_sha256(data.get("key")) or (key is not None and data["key"] != key):
            raise ValueError("manifest is for another key")
        outputs = data.get("outputs")
        if not isinstance(outputs, list):
            raise ValueError("manifest outputs are not a list")
        log = data.get("log")
        if log is not None and (
            not isinstance(log, dict)
            or not is_sha256(log.get("sha256"))
            or not isinstance(log.get("size"), int)
        ):
            raise ValueError("bad log record")
        return cls(
            key=data["key"],
            parts=KeyParts.from_record(data.get("parts", {})),
            outputs=tuple(Output.from_json(item) for item in outputs),
            log_sha256=log["sha256"] if log else None,
            log_size=log["size"] if log else 0,
            cost_usd=_decimal(data.get("cost_usd", "0")),
            duration_s=_number(data.get("duration_s", 0.0)),
            session_id=data.get("session_id") if isinstance(data.get("session_id"), str) else None,
            plan_name=data.get("plan_name") if isinstance(data.get("plan_name"), str) else None,
            created_at=_number(data.get("created_at", 0.0)),
            last_used_at=last_used_at,
            hits=hits,
        )


def _decimal(value: Any) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"bad cost {value!r}") from None
    if not result.is_finite() or result < 0:
        raise ValueError(f"bad cost {value!r}")
    return result


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"bad number {value!r}")
    return float(value)


def parse_manifest(data: Mapping[str, Any], key: str) -> CacheEntry | None:
    """A validated entry, or None when the manifest cannot be trusted."""
    try:
        return CacheEntry.from_manifest(data, key=key)
    except ValueError:
        return None
