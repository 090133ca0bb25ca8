"""A git worktree per task, and a task's result as a commit on its own branch.

Worktrees are made without hooks (a user's post-checkout hook has no business in a build's
scratch copy) from a given commit: the session's snapshot, or the integration tip that holds the
work of the task's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from buildrunner.build.git import Git, IsolationError

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # A (added) | M (modified) | D (deleted) | T (type changed)


def registered_worktrees(git: Git) -> set[Path]:
    """Folders git knows as worktrees of this repository."""
    out = git.run("worktree", "list", "--porcelain", "-z").stdout.decode("utf-8", "surrogateescape")
    return {
        Path(field[len("worktree "):]).resolve()
        for field in out.split("\0") if field.startswith("worktree ")
    }


def add_worktree(git: Git, path: Path, branch: str, base: str) -> None:
    """Make (or find again, after a restart) the worktree at `path` on `branch`, from `base`."""
    if path.resolve() in registered_worktrees(git) and path.is_dir():
        return
    git.run("worktree", "prune")  # a folder removed by hand leaves a registration behind
    path.parent.mkdir(parents=True, exist_ok=True)
    if git.commit_id(f"refs/heads/{branch}") is not None:
        git.run(*NO_HOOKS, "worktree", "add", "--quiet", str(path), branch)
    else:
        git.run(*NO_HOOKS, "worktree", "add", "--quiet", "-b", branch, str(path), base)


def remove_worktree(git: Git, path: Path) -> bool:
    """Remove a worktree folder and its registration; False when there was none."""
    known = path.resolve() in registered_worktrees(git)
    if known:
        git.run("worktree", "remove", "--force", "--force", str(path), check=False)
    existed = path.exists()
    if existed:  # not a worktree (any more): a leftover folder of ours
        import shutil

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
        ChangedFile(path, status[0]) for status, path in zip(fields[::2], fields[1::2], strict=False)
        if status and path
    ]
