"""After an agent task: writes outside its declared `files` are refused and undone.

The rule (both executors; docs/SECURITY.md, "Agent tasks"):

- A `RestorePoint` is taken when an attempt (or a follow-up round) starts: every file's size and
  mtime, and the bytes of each file up to `MAX_FILE_BYTES` (`MAX_TOTAL_BYTES` in all), so a
  file can be put back. Cache directories (`workspace.IGNORED_DIRS`) are not compared, except
  `.git/hooks` and `.git/config`, which run code later; nor are the files test tools leave behind
  (`TOOL_LEFTOVERS`: `.coverage`, `*.pyc`, ...).
- Only paths the task itself could have written count. In the API agent loop every file tool
  goes through the ToolBox, which refuses a path outside `files` before writing; the only other
  writer is `run_command`, so what changed while one of the task's own commands ran is compared.
  For Claude Code, what changed during the run is compared; when the CLI's transcript shows that
  it used only its file tools (no Bash, no MCP or other tool that can write), only the paths those
  tools named count, so another task's write in a shared tree is not taken for this task's.
- A counted path outside `files` is a refusal of the task's result: it is restored to its
  content at the restore point (a created file is removed, a deleted one written back), a
  `tool_refused` event names it, and the task fails with error_type `write_outside_files`.
  A file too large to have been kept is reported as not restored.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from buildrunner.executors.workspace import IGNORED_DIRS, Workspace

MAX_FILE_BYTES = 1 << 20  # files larger than this are compared, but cannot be put back
MAX_TOTAL_BYTES = 64 << 20
WATCHED_INSIDE_IGNORED = (".git/hooks", ".git/config")  # later runs execute or obey these
# What test and build tools leave behind when a task runs its checks: not the task's work.
TOOL_LEFTOVERS = (
    ".coverage",
    ".coverage.*",
    "coverage.xml",
    "*.pyc",
    ".DS_Store",
    "htmlcov/*",
    ".tox/*",
    ".nox/*",
    ".hypothesis/*",
    "*.egg-info/*",
    ".eggs/*",
)
OUTSIDE_FILES_REASON = "written outside the task's files"


def is_leftover(path: str) -> bool:
    """True for the caches and reports tools write while a task's commands run."""
    return any(
        fnmatch.fnmatchcase(candidate, pattern)
        for pattern in TOOL_LEFTOVERS
        for candidate in (path, *_suffixes(path))
    )


def _suffixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[i:]) for i in range(1, len(parts))]


@dataclass
class RestorePoint:
    """The tree as it was: (size, mtime_ns) of every file, and the bytes of those kept."""

    workspace: Workspace
    state: dict[str, tuple[int, int]] = field(default_factory=dict)
    content: dict[str, bytes] = field(default_factory=dict)
    directories: set[str] = field(default_factory=set)

    @classmethod
    def capture(cls, workspace: Workspace) -> RestorePoint:
        point = cls(workspace)
        budget = MAX_TOTAL_BYTES
        for relative, path in _files(workspace):
            try:
                info = path.stat()
            except OSError:
                continue
            point.state[relative] = (info.st_size, info.st_mtime_ns)
            if info.st_size <= min(MAX_FILE_BYTES, budget):
                try:
                    point.content[relative] = path.read_bytes()
                except OSError:
                    continue
                budget -= info.st_size
        for directory, dirs, _ in os.walk(workspace.root):
            dirs[:] = [name for name in dirs if name not in IGNORED_DIRS]
            point.directories.add(Path(directory).relative_to(workspace.root).as_posix())
        return point

    def changed(self) -> list[str]:
        """Files created, modified or deleted since the restore point, sorted."""
        now: dict[str, tuple[int, int]] = {}
        for relative, path in _files(self.workspace):
            try:
                info = path.stat()
            except OSError:
                continue
            now[relative] = (info.st_size, info.st_mtime_ns)
        return sorted(
            path for path in self.state.keys() | now.keys() if self.state.get(path) != now.get(path)
        )

    def restore(self, relative: str) -> bool:
        """Put one file back as it was; False when its content was not kept."""
        path = self.workspace.root / relative
        if relative not in self.state:
            path.unlink(missing_ok=True)
            self._remove_new_directories(path.parent)
            return True
        if relative not in self.content:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        path.write_bytes(self.content[relative])
        return True

    def _remove_new_directories(self, directory: Path) -> None:
        root = self.workspace.root
        while directory != root and root in directory.parents:
            relative = directory.relative_to(root)
            if relative.as_posix() in self.directories or relative.parts[0] in IGNORED_DIRS:
                return
            try:
                directory.rmdir()  # only when empty
            except OSError:
                return
            directory = directory.parent


@dataclass
class OutsideWrite:
    path: str
    restored: bool


def undo_outside_writes(point: RestorePoint, candidates: list[str]) -> list[OutsideWrite]:
    """Restore every candidate that is outside the task's files (and not a tool's leftover)."""
    undone: list[OutsideWrite] = []
    for path in candidates:
        if point.workspace.scope.allows(path) or is_leftover(path):
            continue
        undone.append(OutsideWrite(path, point.restore(path)))
    return undone


def refusal_reason(write: OutsideWrite) -> str:
    """The `tool_refused` reason for an undone write."""
    what = "reverted" if write.restored else "NOT reverted: too large to have been kept"
    return f"{OUTSIDE_FILES_REASON}; {what}"


def _files(workspace: Workspace) -> list[tuple[str, Path]]:
    found = [(workspace.relative(path), path) for path in workspace.walk()]
    for watched in WATCHED_INSIDE_IGNORED:
        target = workspace.root / watched
        if target.is_file() and not target.is_symlink():
            found.append((watched, target))
        elif target.is_dir():
            found += [(workspace.relative(path), path) for path in _walk_all(target)]
    return found


def _walk_all(top: Path) -> list[Path]:
    return sorted(
        Path(directory) / name
        for directory, _, names in os.walk(top)
        for name in names
        if (Path(directory) / name).is_file() and not (Path(directory) / name).is_symlink()
    )
