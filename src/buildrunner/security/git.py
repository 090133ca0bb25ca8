"""Git plumbing for the scanner: the staged diff's added lines, staged blobs, and history."""

from __future__ import annotations

import codecs
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from buildrunner.errors import SecurityError

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass
class FileDiff:
    """Lines a change adds to one file (new-side line numbers) and their text."""

    path: str
    added: dict[int, str] = field(default_factory=dict)
    binary: bool = False


def run_git(args: Sequence[str], cwd: Path, *, input: bytes | None = None) -> bytes:
    """Run git and return stdout; raise SecurityError with git's message on failure."""
    try:
        result = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise SecurityError("git is not installed or not on PATH") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SecurityError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return result.stdout


def repo_root(cwd: Path) -> Path:
    """The top folder of the git work tree containing `cwd`."""
    try:
        out = run_git(["rev-parse", "--show-toplevel"], cwd)
    except SecurityError:
        raise SecurityError(f"{cwd} is not inside a git repository") from None
    return Path(out.decode().strip())


def parse_diff(diff: bytes) -> Iterator[tuple[str | None, FileDiff]]:
    """(commit or None, file diff) for each file in `git diff`/`git log -p` output (-U0, %x00%H)."""
    commit: str | None = None
    current: FileDiff | None = None
    line_number = 0
    for raw in diff.split(b"\n"):
        if raw.startswith(b"\x00"):
            if current is not None:
                yield commit, current
                current = None
            commit = raw[1:].decode().strip()
        elif raw.startswith(b"diff --git "):
            if current is not None:
                yield commit, current
            current = FileDiff(path="")
            line_number = 0
        elif current is None:
            continue
        elif raw.startswith(b"+++ ") and not line_number:
            name = raw[4:].rstrip(b"\t")  # git adds a tab after names with spaces
            if name.startswith(b'"') and name.endswith(b'"'):
                # C-quoted (octal bytes for non-ASCII): unescape the bytes, then decode UTF-8
                name = codecs.escape_decode(name[1:-1])[0]
            target = name.decode("utf-8", "replace")
            current.path = target[2:] if target.startswith("b/") else target
        elif raw.startswith(b"Binary files "):
            current.binary = True
            if not current.path:
                match = re.search(rb" and b/(.*) differ$", raw)
                current.path = match.group(1).decode("utf-8", "replace") if match else ""
        elif raw.startswith(b"@@"):
            hunk = _HUNK.match(raw)
            line_number = int(hunk.group(1)) if hunk else 0
        elif raw.startswith(b"+") and line_number:
            current.added[line_number] = raw[1:].decode("utf-8", "replace")
            line_number += 1
    if current is not None:
        yield commit, current


def staged_diff(root: Path) -> list[FileDiff]:
    """Files staged for commit (added, copied, modified, renamed) with their added lines."""
    out = run_git(
        ["diff", "--cached", "--no-color", "--no-ext-diff", "--unified=0", "--diff-filter=ACMR"],
        root,
    )
    return [file for _, file in parse_diff(out) if file.path]


def staged_blobs(root: Path, paths: Sequence[str]) -> dict[str, bytes]:
    """The staged (index) content of each path, read with one `git cat-file --batch`."""
    if not paths:
        return {}
    request = "".join(f":{path}\n" for path in paths).encode("utf-8")
    out = run_git(["cat-file", "--batch"], root, input=request)
    blobs: dict[str, bytes] = {}
    position = 0
    for path in paths:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        position = header_end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        blobs[path] = out[position : position + size]
        position += size + 1
    return blobs


def history_diff(root: Path, revisions: Sequence[str] = ("--all",)) -> bytes:
    """Every commit's patch (oldest first, added lines only matter) for a history scan."""
    return run_git(
        [
            "log",
            *revisions,
            "--reverse",
            "-p",
            "--unified=0",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            "--diff-filter=ACMR",
            "--format=%x00%H",
        ],
        root,
    )
