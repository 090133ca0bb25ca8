"""A task's working directory: paths confined to it, and the write scope from the task's `files`.

A path the model names is resolved against the working directory (symlinks followed); anything
that lands outside (`..`, absolute paths elsewhere, a symlink pointing out) is refused. Writes must
also fall inside the declared `files`: an exact path, a directory prefix (`app/`), or a glob
(`tests/*.py`, `src/**/*.ts`), the same shapes the file locks cover.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import PathRefused as PathRefused

_GLOB_CHARS = frozenset("*?[")

# Directories that hold tool caches, not work: never listed, never counted as changes.
IGNORED_DIRS = frozenset(
    {
        ".git",
        ".buildrunner",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "node_modules",
        ".venv",
    }
)


def normalise(path: str) -> str:
    """A declared or requested path in POSIX form without `./` (keeps a trailing `/`)."""
    text = path.replace("\\", "/").strip()
    trailing = text.endswith("/") and text != "/"
    normal = posixpath.normpath(text) if text else "."
    return normal + "/" if trailing and normal != "." else normal


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay inside one path segment, `**` spans any number of them."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class FileScope:
    """The paths a task may write, from its declared `files`."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    globs: tuple[re.Pattern[str], ...]
    everything: bool = False

    @classmethod
    def from_files(cls, files: Sequence[str]) -> FileScope:
        exact: set[str] = set()
        prefixes: list[str] = []
        globs: list[re.Pattern[str]] = []
        everything = False
        for raw in files:
            entry = normalise(raw)
            if entry in (".", "./", "/", "**", "**/*"):
                everything = True
            elif any(char in _GLOB_CHARS for char in entry):
                globs.append(glob_to_regex(entry))
            elif entry.endswith("/"):
                prefixes.append(entry)
            else:
                exact.add(entry)
        return cls(frozenset(exact), tuple(prefixes), tuple(globs), everything)

    def allows(self, relative: str) -> bool:
        """True if the task may write `relative` (a normalised path inside the workdir)."""
        if self.everything:
            return True
        return (
            relative in self.exact
            or any(relative.startswith(prefix) for prefix in self.prefixes)
            or any(glob.match(relative) for glob in self.globs)
        )


class Workspace:
    """The working directory of one task and its write scope."""

    def __init__(self, root: Path, files: Sequence[str]) -> None:
        self.root = root.resolve()
        self.scope = FileScope.from_files(files)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def resolve(self, requested: str) -> Path:
        """The real path for `requested`, refused if it leaves the working directory."""
        if not requested or "\x00" in requested:
            raise PathRefused("empty or invalid path")
        candidate = Path(requested)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        real = candidate.resolve()  # follows symlinks, so a link pointing out is caught here
        if real != self.root and self.root not in real.parents:
            raise PathRefused(f"'{requested}' is outside the task's working directory")
        return real

    def resolve_for_write(self, requested: str) -> tuple[Path, str]:
        """Real path and its relative name, refused outside the workdir or the task's files."""
        real = self.resolve(requested)
        if real == self.root or real.is_dir():
            raise PathRefused(f"'{requested}' is a directory")
        relative = self.relative(real)
        named = normalise(requested if not Path(requested).is_absolute() else relative)
        lexical = self._lexical_relative(requested)
        # Both the name used and the file it really is must be in scope (a symlink inside the
        # workdir must not let a task write another task's file).
        for name in {relative, named if lexical is None else lexical}:
            if not self.scope.allows(name):
                raise PathRefused(f"'{requested}' is not in the task's files")
        return real, relative

    def _lexical_relative(self, requested: str) -> str | None:
        candidate = Path(requested)
        absolute = candidate if candidate.is_absolute() else self.root / candidate
        try:
            return normalise(os.path.relpath(absolute, self.root))
        except ValueError:
            return None

    def walk(self, start: Path | None = None) -> Iterator[Path]:
        """Every regular file under `start` (default: the root), skipping cache directories."""
        top = start or self.root
        for directory, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
            for name in sorted(names):
                path = Path(directory) / name
                if path.is_file() and not path.is_symlink():
                    yield path
