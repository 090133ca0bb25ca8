"""Session isolation in a git worktree under `.buildrunner/worktrees/`, merged back at the end.

The session's tasks run in their own worktree on branch `br/<session>`. When the build succeeds
the changes are committed there and merged into the branch the user was on: a fast-forward when
possible, else a merge commit. A conflict aborts the merge and keeps the branch and worktree, so
nothing is lost; the report says where the work is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import WorktreeError as WorktreeError


@dataclass(frozen=True)
class Worktree:
    repo: Path  # the user's checkout (top level)
    path: Path  # the worktree folder
    branch: str
    base: str  # commit the worktree started from
    subdir: str  # where in the repo the session runs ('' for the top)

    @property
    def workdir(self) -> Path:
        return self.path / self.subdir if self.subdir else self.path


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    how: str  # fast-forward | merge-commit | nothing-to-merge | conflict
    detail: str


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise WorktreeError(
            f"git {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def create_worktree(workdir: Path, data_dir: Path, session_id: str) -> Worktree:
    """Create `.buildrunner/worktrees/<session>` on a new branch from HEAD."""
    top = git(workdir, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise WorktreeError(f"--isolate worktree needs a git repository; {workdir} is not in one")
    repo = Path(top.stdout.strip()).resolve()
    head = git(repo, "rev-parse", "--verify", "HEAD", check=False)
    if head.returncode != 0:
        raise WorktreeError("--isolate worktree needs at least one commit in the repository")
    branch = f"br/{session_id}"
    path = (data_dir / "worktrees" / session_id).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "worktree", "add", "-q", "-b", branch, str(path), head.stdout.strip())
    subdir = workdir.resolve().relative_to(repo).as_posix()
    return Worktree(repo, path, branch, head.stdout.strip(), "" if subdir == "." else subdir)


def merge_back(tree: Worktree, message: str) -> MergeResult:
    """Commit the worktree's changes and merge its branch into the user's current branch."""
    git(tree.path, "add", "-A")
    if git(tree.path, "diff", "--cached", "--quiet", check=False).returncode != 0:
        git(
            tree.path,
            "-c",
            "user.name=BuildRunner",
            "-c",
            "user.email=buildrunner@localhost",
            "commit",
            "-q",
            "--no-verify",
            "-m",
            message,
        )
    tip = git(tree.path, "rev-parse", "HEAD").stdout.strip()
    if tip == tree.base:
        return MergeResult(True, "nothing-to-merge", "the build changed no files")
    head = git(tree.repo, "rev-parse", "HEAD").stdout.strip()
    if head == tree.base:
        result = git(tree.repo, "merge", "--ff-only", "-q", tree.branch, check=False)
        if result.returncode == 0:
            return MergeResult(True, "fast-forward", f"fast-forwarded to {tip[:10]}")
    result = git(
        tree.repo,
        "-c",
        "user.name=BuildRunner",
        "-c",
        "user.email=buildrunner@localhost",
        "merge",
        "--no-edit",
        "-q",
        "-m",
        f"Merge {tree.branch}",
        tree.branch,
        check=False,
    )
    if result.returncode == 0:
        return MergeResult(True, "merge-commit", f"merged {tree.branch} with a merge commit")
    git(tree.repo, "merge", "--abort", check=False)
    reason = (result.stdout + result.stderr).strip().splitlines()
    return MergeResult(
        False,
        "conflict",
        f"merge of {tree.branch} failed ({reason[-1] if reason else 'conflict'}); your work is kept "
        f"on branch {tree.branch} in {tree.path}: merge it by hand",
    )


def remove_worktree(tree: Worktree) -> None:
    """Drop the worktree and its branch after a successful merge."""
    git(tree.repo, "worktree", "remove", "--force", str(tree.path), check=False)
    git(tree.repo, "branch", "-D", tree.branch, check=False)
