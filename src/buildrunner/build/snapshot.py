"""A snapshot of the user's current tree as a commit, without touching their index or files.

What a task should see is what the user sees: committed files, tracked changes (staged or not)
and untracked files that are not ignored. `git add -A` into a *temporary* index (GIT_INDEX_FILE)
collects exactly that; `write-tree` and `commit-tree` turn it into a commit on a private ref.
The temporary index starts as a copy of the user's, so git re-reads only files whose stat data
changed instead of hashing the whole tree.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from buildrunner.build.git import Git


@dataclass(frozen=True)
class Snapshot:
    commit: str  # the snapshot commit (its parent is the user's HEAD, if any)
    head: str | None  # the user's HEAD when it was taken
    ref: str  # the private ref that keeps it


def take_snapshot(git: Git, scratch: Path, ref: str, message: str) -> Snapshot:
    """Commit the working tree of `git.cwd` (its top level) as it is now, onto `ref`."""
    head = git.commit_id("HEAD")
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    index = scratch / "snapshot.index"
    index.unlink(missing_ok=True)
    env = {"GIT_INDEX_FILE": str(index)}
    user_index = Path(git.text("rev-parse", "--path-format=absolute", "--git-path", "index"))
    try:
        if user_index.is_file():
            shutil.copyfile(user_index, index)  # the stat cache: unchanged files are not re-read
        elif head is not None:
            git.run("read-tree", head, env=env)
        git.run("add", "--all", "--", ":/", env=env)
        tree = git.text("write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    commit = git.commit_tree(tree, [head] if head else [], message)
    git.update_ref(ref, commit, message=message)
    return Snapshot(commit, head, ref)
