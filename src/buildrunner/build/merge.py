"""Merging a task's change onto the session's integration tree without any working tree.

`git merge-tree --write-tree` (git >= 2.38) merges two commits in memory and writes the result
as a tree: nothing on disk changes, so a conflict is found before anything reaches the user's
files. A clean result becomes a merge commit on the private integration ref (compare-and-swap,
so two writers can never lose each other's merge); a conflicting one leaves the ref alone and
says which paths conflict and how, hunk by hunk (the merged blob's conflict markers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from buildrunner.build.git import Git, IsolationError, last_line

MARKER_OURS, MARKER_BASE, MARKER_SPLIT, MARKER_THEIRS = (
    "<<<<<<< ",
    "||||||| ",
    "=======",
    ">>>>>>> ",
)
MAX_HUNK_LINES = 200  # per side: a review needs the shape of a conflict, not a whole file


@dataclass(frozen=True)
class ConflictHunk:
    path: str
    line: int  # where the hunk starts in the merged file (1-based); 0 when it is not textual
    ours: str  # the integration tree's side (work merged since the task's base)
    theirs: str  # the task's side
    base: str | None = None  # what both started from
    kind: str = "content"  # content | modify/delete | add/add | rename ... (git's words)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "kind": self.kind,
            "ours": self.ours,
            "theirs": self.theirs,
            "base": self.base,
            "message": self.message,
        }


@dataclass(frozen=True)
class TreeMerge:
    clean: bool
    tree: str
    conflicts: list[str] = field(default_factory=list)  # conflicting paths, in git's order
    hunks: list[ConflictHunk] = field(default_factory=list)


def merge_trees(git: Git, ours: str, theirs: str) -> TreeMerge:
    """Merge commit-ish `theirs` into `ours` in memory (their merge base is found by git)."""
    result = git.run(
        "-c",
        "merge.conflictStyle=diff3",
        "merge-tree",
        "--write-tree",
        "-z",
        ours,
        theirs,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise IsolationError(f"git merge-tree failed: {last_line(result)}")
    fields = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    tree = fields[0]
    if result.returncode == 0:
        return TreeMerge(True, tree)
    paths: list[str] = []
    position = 1
    while position < len(fields) and fields[position]:
        path = fields[position].split("\t", 1)[1]
        if path not in paths:
            paths.append(path)
        position += 1
    messages = _messages(fields[position + 1 :])
    hunks: list[ConflictHunk] = []
    for path in paths:
        kind, message = messages.get(path, ("content", ""))
        textual = _marker_hunks(git, tree, path) if kind == "content" else []
        hunks.extend(textual or [ConflictHunk(path, 0, "", "", kind=kind, message=message)])
    return TreeMerge(False, tree, paths, hunks)


def _messages(fields: list[str]) -> dict[str, tuple[str, str]]:
    """{path: (conflict kind, git's message)} from merge-tree's -z informational section."""
    found: dict[str, tuple[str, str]] = {}
    position = 0
    while position < len(fields) and fields[position].isdigit():
        count = int(fields[position])
        paths = fields[position + 1 : position + 1 + count]
        kind, message = [*fields[position + 1 + count : position + 3 + count], "", ""][:2]
        position += count + 3
        if not kind.startswith("CONFLICT"):
            continue
        label = kind[kind.find("(") + 1 : kind.find(")")] if "(" in kind else "content"
        label = "content" if label == "contents" else label
        for path in paths:
            found.setdefault(path, (label, message.strip()))
    return found


def _marker_hunks(git: Git, tree: str, path: str) -> list[ConflictHunk]:
    """The conflict-marker regions of `path` in the merged tree."""
    result = git.run("cat-file", "blob", f"{tree}:{path}", check=False)
    if result.returncode != 0 or b"\0" in result.stdout[:8000]:
        return []
    hunks: list[ConflictHunk] = []
    side: str | None = None
    parts: dict[str, list[str]] = {}
    start = 0
    for number, line in enumerate(result.stdout.decode("utf-8", "replace").splitlines(), 1):
        if line.startswith(MARKER_OURS) and side is None:
            side, start, parts = "ours", number, {"ours": [], "base": [], "theirs": []}
        elif line.startswith(MARKER_BASE) and side == "ours":
            side = "base"
        elif line == MARKER_SPLIT and side in ("ours", "base"):
            side = "theirs"
        elif line.startswith(MARKER_THEIRS) and side == "theirs":
            hunks.append(
                ConflictHunk(
                    path,
                    start,
                    _joined(parts["ours"]),
                    _joined(parts["theirs"]),
                    _joined(parts["base"]),
                )
            )
            side = None
        elif side is not None:
            parts[side].append(line)
    return hunks


def _joined(lines: list[str]) -> str:
    if len(lines) > MAX_HUNK_LINES:
        lines = [*lines[:MAX_HUNK_LINES], f"... ({len(lines) - MAX_HUNK_LINES} more lines)"]
    return "\n".join(lines) + ("\n" if lines else "")
