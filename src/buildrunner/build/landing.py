"""Landing: bring merged work into the user's working tree, never over what they changed.

The change to land is the diff from the tree last landed (at first, the snapshot) to the
integration tip. Each path is written only where the user's file is still what the snapshot
holds; a file the user changed during the build is left alone and reported (its merged version
stays on the integration ref and the task's branch). Files are replaced atomically (temp file +
rename), so no file is ever half written.

A journal (`landing.json`) names the commits and the paths about to be written before the first
write. After a kill -9, `resume` finishes the landing (a path still as in the snapshot is
written, one already written is left) or `rollback` undoes it (only paths the journal wrote and
that still hold what was written go back to the snapshot's version): nothing is lost either way.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildrunner.build.git import Git, IsolationError, clean_env
from buildrunner.build.isolation_state import write_json_atomic

JOURNAL = "landing.json"
SYMLINK, GITLINK = "120000", "160000"
ABSENT: tuple[str, str] = ("", "")  # (mode, blob) of a path that does not exist
BATCH = 256  # blobs read from git per cat-file run


@dataclass(frozen=True)
class PathChange:
    path: str
    before: tuple[str, str]  # (mode, blob) in the tree last landed; ABSENT if not there
    after: tuple[str, str]  # (mode, blob) in the integration tree; ABSENT if deleted


@dataclass
class LandResult:
    integration: str | None  # the tip that was landed (None: nothing to land)
    written: list[str] = field(default_factory=list)  # written or deleted in the user's tree
    already: list[str] = field(default_factory=list)  # the user's tree already had them
    kept: list[dict[str, str]] = field(default_factory=list)  # {path, reason}: left as they are
    resumed: bool = False
    rolled_back: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "written": self.written,
            "already": self.already,
            "kept": self.kept,
            "resumed": self.resumed,
            "rolled_back": self.rolled_back,
        }


def plan_changes(git: Git, before: str, after: str) -> list[PathChange]:
    """Every path that differs between two commits, with mode and blob on each side."""
    out = git.run("diff", "--raw", "--no-abbrev", "--no-renames", "-z", before, after).stdout
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    changes = []
    for meta, path in zip(fields[::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, old_blob, new_blob, _status = meta[1:].split(" ")
        changes.append(
            PathChange(
                path,
                ABSENT if set(old_blob) == {"0"} else (old_mode, old_blob),
                ABSENT if set(new_blob) == {"0"} else (new_mode, new_blob),
            )
        )
    return changes


class WorkingTree:
    """The user's files as git objects: what is there now, and writing a blob in place."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self.top = git.cwd

    def states(self, paths: Iterable[str]) -> dict[str, tuple[str, str] | None]:
        """(mode, blob) of each path as it is now; ABSENT if missing, None if not a file."""
        found: dict[str, tuple[str, str] | None] = {}
        regular: list[tuple[str, str]] = []
        for path in paths:
            full = self.top / path
            if self._behind_link(path):
                found[path] = None
                continue
            try:
                info = full.lstat()
            except FileNotFoundError:
                found[path] = ABSENT
                continue
            except NotADirectoryError:
                found[path] = None
                continue
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(full).encode("utf-8", "surrogateescape")
                found[path] = (SYMLINK, self._hash_bytes(target))
            elif stat.S_ISREG(info.st_mode):
                regular.append((path, "100755" if info.st_mode & 0o100 else "100644"))
            else:
                found[path] = None  # a folder (or stranger) where the tree has a file
        if regular:
            listing = "".join(f"{path}\n" for path, _ in regular).encode("utf-8", "surrogateescape")
            blobs = (
                self.git.run("hash-object", "--stdin-paths", input=listing).stdout.decode().split()
            )
            for (path, mode), blob in zip(regular, blobs, strict=True):
                found[path] = (mode, blob)
        return found

    def _behind_link(self, path: str) -> bool:
        """True when a parent folder of `path` is a symbolic link (a write could leave the tree)."""
        current = self.top
        for part in Path(path).parts[:-1]:
            current = current / part
            if current.is_symlink():
                return True
        return False

    def _hash_bytes(self, data: bytes) -> str:
        return self.git.run("hash-object", "--stdin", input=data).stdout.decode().strip()

    def blobs(self, ids: list[str]) -> dict[str, bytes]:
        """The content of each blob id."""
        found: dict[str, bytes] = {}
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            out = subprocess.run(
                ["git", "cat-file", "--batch"],
                cwd=self.top,
                env=clean_env(),
                input="".join(f"{blob}\n" for blob in chunk).encode(),
                capture_output=True,
                check=False,
            )
            if out.returncode != 0:
                raise IsolationError("git cat-file failed while landing")
            data, position = out.stdout, 0
            for _ in chunk:
                header_end = data.index(b"\n", position)
                blob, _kind, size = data[position:header_end].decode().split(" ")
                start_of = header_end + 1
                found[blob] = data[start_of : start_of + int(size)]
                position = start_of + int(size) + 1
        return found

    def put(self, path: str, state: tuple[str, str], content: bytes | None) -> None:
        """Make `path` hold `state` (write atomically, or delete for ABSENT)."""
        full = self.top / path
        if state == ABSENT:
            if full.is_symlink() or full.exists():
                full.unlink()
            self._prune_empty(full.parent)
            return
        full.parent.mkdir(parents=True, exist_ok=True)
        temp = full.parent / f".{full.name}.br-landing"
        temp.unlink(missing_ok=True)
        mode, _ = state
        if mode == SYMLINK:
            os.symlink((content or b"").decode("utf-8", "surrogateescape"), temp)
        else:
            handle = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if mode == "100755" else 0o666
            )
            with os.fdopen(handle, "wb") as out:
                out.write(content or b"")
        os.replace(temp, full)

    def _prune_empty(self, folder: Path) -> None:
        while folder != self.top and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def land_changes(
    git: Git,
    journal_dir: Path,
    before: str,
    after: str,
    *,
    on_write: Callable[[str], None] | None = None,
    resumed: bool = False,
) -> LandResult:
    """Land the diff `before`..`after` into the working tree of `git.cwd` (see module doc)."""
    tree = WorkingTree(git)
    changes = plan_changes(git, before, after)
    journal = journal_dir / JOURNAL
    previous = read_journal(journal_dir)
    planned = set(previous["paths"]) if previous and previous["to"] == after else None
    result = LandResult(after, resumed=resumed or planned is not None)
    current = tree.states(change.path for change in changes)
    to_write: list[PathChange] = []
    for change in changes:
        now = current[change.path]
        if now == change.after:
            result.already.append(change.path)
        elif now == change.before and change.after[0] != GITLINK and now is not None:
            to_write.append(change)
        else:
            result.kept.append({"path": change.path, "reason": _why_kept(change, now)})
    paths = sorted({change.path for change in to_write} | (planned or set()))
    write_json_atomic(journal, {"from": before, "to": after, "paths": paths, "state": "landing"})
    _apply(tree, to_write, result, on_write)
    if planned:  # paths the interrupted run wrote are in `already` now: they were ours
        result.written.extend(path for path in result.already if path in planned)
        result.already = [path for path in result.already if path not in planned]
    result.written.sort()
    finish_journal(journal_dir)
    return result


def rollback_changes(git: Git, journal_dir: Path) -> LandResult | None:
    """Undo an interrupted landing: the paths it wrote go back to their earlier version."""
    previous = read_journal(journal_dir)
    if previous is None:
        return None
    tree = WorkingTree(git)
    planned = set(previous["paths"])
    changes = [c for c in plan_changes(git, previous["from"], previous["to"]) if c.path in planned]
    result = LandResult(previous["from"], rolled_back=True)
    current = tree.states(change.path for change in changes)
    undo = []
    for change in changes:
        now = current[change.path]
        if now == change.after:
            undo.append(PathChange(change.path, change.after, change.before))
        elif now != change.before:
            result.kept.append(
                {"path": change.path, "reason": "changed after the interrupted landing"}
            )
    _apply(tree, undo, result, None)
    finish_journal(journal_dir)
    return result


def _apply(
    tree: WorkingTree,
    changes: list[PathChange],
    result: LandResult,
    on_write: Callable[[str], None] | None,
) -> None:
    contents = tree.blobs(sorted({c.after[1] for c in changes if c.after != ABSENT}))
    for change in changes:
        tree.put(
            change.path, change.after, None if change.after == ABSENT else contents[change.after[1]]
        )
        result.written.append(change.path)
        if on_write is not None:
            on_write(change.path)


def _why_kept(change: PathChange, now: tuple[str, str] | None) -> str:
    if change.after[0] == GITLINK:
        return "a submodule: update it by hand"
    if now is None:
        return "not a plain file in your tree (a folder, or behind a symbolic link)"
    if now == ABSENT:
        return "you deleted it during the build"
    if change.before == ABSENT:
        return "you created it during the build"
    return "you changed it during the build"


def read_journal(journal_dir: Path) -> dict[str, Any] | None:
    """An unfinished landing's journal, or None."""
    try:
        data = json.loads((journal_dir / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IsolationError(f"cannot read the landing journal in {journal_dir}: {exc}") from None
    return data if isinstance(data, dict) and data.get("state") == "landing" else None


def finish_journal(journal_dir: Path) -> None:
    (journal_dir / JOURNAL).unlink(missing_ok=True)
