"""Which files a scan reads: a directory walk that honours .gitignore files and allow-path globs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from buildrunner.security.filetypes import BINARY_SUFFIXES

__all__ = ["BINARY_SUFFIXES", "SKIP_DIRS", "Candidate", "allow_spec", "iter_files", "relative_to"]

# Never worth reading: VCS internals, dependency caches, our own data directory.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".buildrunner",
        ".idea",
        ".gradle",
    }
)


@dataclass(frozen=True)
class Candidate:
    """A file to consider: its absolute path and its path relative to the scan root.

    `skip` is set when the walk already knows the path cannot be read (a folder it cannot list,
    a broken symlink, a FIFO): the scan lists it as skipped instead of reading it.
    """

    path: Path
    relative: str
    skip: str | None = None


def gitignore_spec(lines: Iterable[str]) -> pathspec.PathSpec[Any] | None:
    """A gitignore matcher for `lines`; a pattern git accepts but pathspec cannot compile (a lone
    `!`, a trailing `\\`, a reversed range `[z-a]`) matches nothing, as in git, instead of raising."""
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec raises several types for bad patterns; find the bad ones
        usable = []
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except Exception:
                continue
            usable.append(line)
        return pathspec.GitIgnoreSpec.from_lines(usable) if usable else None


def allow_spec(globs: Sequence[str]) -> pathspec.PathSpec[Any] | None:
    """A matcher for the configured allow-path globs (gitignore syntax), or None."""
    return gitignore_spec(globs) if globs else None


def relative_to(path: Path, root: Path) -> str:
    """`path` relative to `root` with '/' separators (absolute when outside the root)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def iter_files(paths: Sequence[Path], root: Path, *, gitignore: bool = True) -> Iterator[Candidate]:
    """Files under `paths` (files are taken as given), skipping ignored directories and files."""
    seen: set[Path] = set()
    for given in paths:
        start = given.resolve()
        if start.is_file():
            if start not in seen:
                seen.add(start)
                yield Candidate(start, relative_to(start, root))
            continue
        if not start.is_dir():
            reason = _unreadable_reason(given.absolute())
            if reason is not None:
                yield Candidate(given.absolute(), relative_to(given.absolute(), root), reason)
            continue
        specs = _inherited_specs(start, root) if gitignore else []
        yield from _walk(start, root, specs, gitignore, seen)


def _walk(
    top: Path,
    root: Path,
    inherited: list[tuple[Path, pathspec.PathSpec[Any]]],
    gitignore: bool,
    seen: set[Path],
) -> Iterator[Candidate]:
    stack: list[tuple[Path, list[tuple[Path, pathspec.PathSpec[Any]]]]] = [(top, inherited)]
    while stack:
        directory, specs = stack.pop()
        if gitignore:
            own = _read_spec(directory / ".gitignore")
            if own is not None:
                specs = [*specs, (directory, own)]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            yield Candidate(
                directory, relative_to(directory, root) + "/", f"unreadable: {exc.strerror or exc}"
            )
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                yield Candidate(path, relative_to(path, root), f"unreadable: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(mode):
                if entry.name in SKIP_DIRS or (specs and _ignored(path, specs, True)):
                    continue
                subdirs.append((path, specs))
                continue
            if (specs and _ignored(path, specs, False)) or path in seen:
                continue
            seen.add(path)
            if stat.S_ISREG(mode):
                yield Candidate(path, relative_to(path, root))
            elif stat.S_ISLNK(mode):
                # links are not followed (their target is scanned where it lives); a broken or
                # looping one is listed, since what it should point at was not scanned
                yield Candidate(path, relative_to(path, root), _link_reason(path))
            else:
                yield Candidate(path, relative_to(path, root), "unreadable: not a regular file")
        stack.extend(reversed(subdirs))


def _ignored(path: Path, specs: list[tuple[Path, pathspec.PathSpec[Any]]], is_dir: bool) -> bool:
    for base, spec in specs:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


def _link_reason(path: Path) -> str:
    try:
        path.stat()
    except OSError as exc:
        return f"unreadable: broken symlink ({exc.strerror or exc})"
    return "symlink: not followed"


def _unreadable_reason(path: Path) -> str | None:
    """Why a path given to the scan that is neither a file nor a folder cannot be read."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None  # does not exist: the caller reports missing paths
    if stat.S_ISLNK(mode):
        return _link_reason(path)
    return "unreadable: not a regular file"


def _read_spec(path: Path) -> pathspec.PathSpec[Any] | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return gitignore_spec(lines)


def _inherited_specs(start: Path, root: Path) -> list[tuple[Path, pathspec.PathSpec[Any]]]:
    """.gitignore files of the folders between the repository top and `start` (exclusive)."""
    specs: list[tuple[Path, pathspec.PathSpec[Any]]] = []
    chain: list[Path] = []
    for folder in start.parents:
        chain.append(folder)
        if (folder / ".git").exists():
            break
    else:
        return specs
    for folder in reversed(chain):
        spec = _read_spec(folder / ".gitignore")
        if spec is not None:
            specs.append((folder, spec))
    return specs
