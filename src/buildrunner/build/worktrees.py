"""A git worktree per task, reused across tasks, and a task's result as a commit on its branch.

Making a worktree writes every file of the repository (seconds for a large one); switching an
existing worktree to another commit writes only the files that differ. So a session keeps the
worktrees of finished tasks in a pool: the next task's worktree is a free one moved to its name
(`git worktree move`), switched to its branch and base (`checkout -f`) and cleaned (`clean -ffdx`,
so nothing of the previous task, not even ignored files, is left). Only when the pool is empty
is a new worktree made. Worktrees are made and switched without hooks (a user's post-checkout
hook has no business in a build's scratch copy).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from buildrunner.build.git import Git, IsolationError

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
FREE_PREFIX = ".free-"  # folders warmed for tasks to come (a task id never starts with '.')


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # A (added) | M (modified) | D (deleted) | T (type changed)


def is_worktree(path: Path) -> bool:
    """True when `path` is a linked worktree's folder (it has a `.git` file)."""
    return (path / ".git").is_file()


def registered_worktrees(git: Git) -> set[Path]:
    """Folders git knows as worktrees of this repository."""
    out = git.run("worktree", "list", "--porcelain", "-z").stdout.decode("utf-8", "surrogateescape")
    return {
        Path(field[len("worktree ") :]).resolve()
        for field in out.split("\0")
        if field.startswith("worktree ")
    }


class WorktreePool:
    """One session's worktrees: task folders under `root`, and free ones to reuse.

    `free` is the session journal's list of free folders; it is changed in place, so the caller
    saves the journal after each call.
    """

    def __init__(self, git: Git, root: Path, free: list[str]) -> None:
        self.git, self.root, self.free = git, root, free

    def attach(self, name: str, branch: str, base: str) -> Path:
        """The folder `root/name` checked out on `branch` (made at `base` if it is new)."""
        path = self.root / name
        if str(path) in self.free:  # released, but no other task took it yet: still its own
            self.free.remove(str(path))
        exists = self.git.commit_id(f"refs/heads/{branch}") is not None
        if is_worktree(path):
            head = Git(path).run("symbolic-ref", "--quiet", "HEAD", check=False)
            if head.stdout.decode().strip() != f"refs/heads/{branch}":
                self._switch(path, branch, base, exists)
            return path
        while self.free:
            free = Path(self.free.pop(0))
            if is_worktree(free):
                self.git.run("worktree", "move", str(free), str(path))
                self._switch(path, branch, base, exists)
                return path
        if exists:
            self._add(path, [], branch)
        else:
            self._add(path, ["-b", branch], base)
        return path

    def warm(self, count: int, base: str) -> None:
        """Make free worktrees ahead of time (at `base`), so the first tasks need not wait."""
        for _ in range(count):
            path = self.root / f"{FREE_PREFIX}{_unique()}"
            self._add(path, ["--detach"], base)
            self.free.append(str(path))

    def release(self, path: Path) -> None:
        """Give a task's worktree to the pool. Nothing happens on disk until another task takes
        it (switching it to that task's branch also frees this task's branch)."""
        if is_worktree(path) and str(path) not in self.free:
            self.free.append(str(path))

    def _switch(self, path: Path, branch: str, base: str, exists: bool) -> None:
        """Check `branch` out in the worktree at `path`, writing only what differs, and drop
        everything else in it (untracked and ignored files of an earlier task)."""
        tree = Git(path)
        tree.run(
            *NO_HOOKS,
            "checkout",
            "--quiet",
            "--force",
            *([branch] if exists else ["-B", branch, base]),
        )
        tree.run("clean", "--quiet", "-ffdx")

    def _add(self, path: Path, options: list[str], start: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        args = [*NO_HOOKS, "worktree", "add", "--quiet", *options, str(path), start]
        result = self.git.run(*args, check=False)
        if result.returncode != 0:  # a folder removed by hand leaves a registration behind
            self.git.run("worktree", "prune")
            self.git.run(*args)


def _unique() -> str:
    return os.urandom(3).hex()


def remove_worktree(git: Git, path: Path) -> bool:
    """Remove a worktree folder and its registration; False when there was none."""
    known = path.resolve() in registered_worktrees(git)
    if known:
        git.run("worktree", "remove", "--force", "--force", str(path), check=False)
    existed = path.exists()
    if existed:  # not a worktree (any more): a leftover folder of ours
        shutil.rmtree(path, ignore_errors=True)
    git.run("worktree", "prune", check=False)
    return known or existed


def commit_worktree(worktree: Path, branch: str, message: str) -> str | None:
    """Commit everything the task changed in its worktree onto `branch`; None if nothing changed.

    The commit is written with plumbing (write-tree, commit-tree, update-ref) so no hook runs.
    """
    git = Git(worktree)
    if not worktree.is_dir():
        raise IsolationError(f"the task's worktree {worktree} is gone")
    git.run("add", "--all", "--", ":/")
    tree = git.text("write-tree")
    head = git.text("rev-parse", "HEAD")
    if tree == git.text("rev-parse", f"{head}^{{tree}}"):
        return None
    commit = git.commit_tree(tree, [head], message)
    git.update_ref(f"refs/heads/{branch}", commit, head, message=message)
    return commit


def changed_files(git: Git, base: str, commit: str) -> list[ChangedFile]:
    """What `commit` changes against `base`, path by path (renames as delete + add)."""
    out = git.run("diff", "--name-status", "--no-renames", "-z", base, commit).stdout
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    return [
        ChangedFile(path, status[0])
        for status, path in zip(fields[::2], fields[1::2], strict=False)
        if status and path
    ]
