"""Which files a scan reads: a directory walk that honours .gitignore files and allow-path globs."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from buildrunner.security.filetypes import BINARY_SUFFIXES

__all__ = ["BINARY_SUFFIXES", "SKIP_DIRS", "Candidate", "allow_spec", "iter_files", "relative_to"]

# Never worth reading: VCS internals, dependency caches, our own data directory.
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".buildrunner", ".idea", ".gradle",
})
@dataclass(frozen=True)
class Candidate:
    """A file to consider: its absolute path and its path relative to the scan root."""

    path: Path
    relative: str


def allow_spec(globs: Sequence[str]) -> pathspec.PathSpec | None:
    """A matcher for the configured allow-path globs (gitignore syntax), or None."""
    return pathspec.GitIgnoreSpec.from_lines(globs) if globs else None


def relative_to(path: Path, root: Path) -> str:
    """`path` relative to `root` with '/' separators (absolute when outside the root)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def iter_files(paths: Sequence[Path], root: Path, *, gitignore: bool = True) -> Iterator[Candidate]:
    """Files under `paths` (files are taken as given), skipping ignored directories and files."""
    seen: set[Path] = set()
    for start in paths:
        start = start.resolve()
        if start.is_file():
            if start not in seen:
                seen.add(start)
                yield Candidate(start, relative_to(start, root))
            continue
        if not start.is_dir():
            continue
        specs = _inherited_specs(start, root) if gitignore else []
        yield from _walk(start, root, specs, gitignore, seen)


def _walk(
    top: Path, root: Path, inherited: list[tuple[Path, pathspec.PathSpec]], gitignore: bool,
    seen: set[Path],
) -> Iterator[Candidate]:
    stack: list[tuple[Path, list[tuple[Path, pathspec.PathSpec]]]] = [(top, inherited)]
    while stack:
        directory, specs = stack.pop()
        if gitignore:
            own = _read_spec(directory / ".gitignore")
            if own is not None:
                specs = [*specs, (directory, own)]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError:
                continue
            path = Path(entry.path)
            if is_dir:
                if entry.name in SKIP_DIRS or (specs and _ignored(path, specs, True)):
                    continue
                subdirs.append((path, specs))
            elif is_file:
                if (specs and _ignored(path, specs, False)) or path in seen:
                    continue
                seen.add(path)
                yield Candidate(path, relative_to(path, root))
        stack.extend(reversed(subdirs))


def _ignored(path: Path, specs: list[tuple[Path, pathspec.PathSpec]], is_dir: bool) -> bool:
    for base, spec in specs:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


def _read_spec(path: Path) -> pathspec.PathSpec | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _inherited_specs(start: Path, root: Path) -> list[tuple[Path, pathspec.PathSpec]]:
    """.gitignore files of the folders between the repository top and `start` (exclusive)."""
    specs: list[tuple[Path, pathspec.PathSpec]] = []
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
