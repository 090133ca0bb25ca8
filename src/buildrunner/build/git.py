"""Running git for isolation: one place that builds a clean environment and turns failures into errors.

Every call runs in the user's repository (or one of its worktrees) with the variables that could
point git at another repository removed, a fixed identity for the commits BuildRunner writes, and
no pager, prompt or signing, so the result never depends on how the user's shell is set up.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildrunner.errors import BuildRunnerError

# Variables that redirect git to another repository, index or object store: a br started from a
# git hook inherits them, and they would make every call below act on the wrong thing.
_REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
)
IDENTITY = {
    "GIT_AUTHOR_NAME": "BuildRunner",
    "GIT_AUTHOR_EMAIL": "buildrunner@localhost",
    "GIT_COMMITTER_NAME": "BuildRunner",
    "GIT_COMMITTER_EMAIL": "buildrunner@localhost",
}


class IsolationError(BuildRunnerError):
    """Git refused an isolation step, or the repository cannot be isolated."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every isolation git call runs with."""
    env = {key: value for key, value in os.environ.items() if key not in _REDIRECTING}
    env.update(IDENTITY)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"})
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Git:
    """git in one directory (the repository's top level, or a worktree)."""

    cwd: Path

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `git ARGS`; raise IsolationError with git's last line when it fails and `check`."""
        try:
            result = subprocess.run(
                ["git", "-c", "core.quotepath=off", "-c", "commit.gpgsign=false", *args],
                cwd=self.cwd,
                env=clean_env(env),
                input=input,
                capture_output=True,
                check=False,
            )
        except FileNotFoundError:
            raise IsolationError("git is not installed or not on PATH") from None
        if check and result.returncode != 0:
            raise IsolationError(f"git {args[0]} failed: {last_line(result)}")
        return result

    def text(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """stdout of `git ARGS` as text, stripped."""
        return self.run(*args, env=env).stdout.decode("utf-8", "surrogateescape").strip()

    def ok(self, *args: str) -> bool:
        """True when `git ARGS` exits 0 (for questions like `merge-base --is-ancestor`)."""
        return self.run(*args, check=False).returncode == 0

    def commit_id(self, rev: str) -> str | None:
        """The commit `rev` names, or None when it names nothing."""
        result = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return result.stdout.decode().strip() or None if result.returncode == 0 else None

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        """A commit object for `tree` (no hooks, no signing, BuildRunner as author)."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.text(*args, "-m", message)

    def update_ref(self, ref: str, new: str, old: str | None = None, message: str = "br") -> None:
        """Move `ref` to `new`; with `old`, only if it still points there (compare-and-swap)."""
        args = ["update-ref", "-m", message, ref, new]
        if old is not None:
            args.append(old)
        self.run(*args)

    def delete_ref(self, ref: str) -> None:
        self.run("update-ref", "-d", ref, check=False)

    def refs(self, prefix: str) -> dict[str, str]:
        """{ref name: commit} for every ref under `prefix`."""
        out = self.text("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        found: dict[str, str] = {}
        for line in out.splitlines():
            name, _, commit = line.partition(" ")
            if commit:
                found[name] = commit
        return found


def last_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """git's last line of complaint (stderr, else stdout)."""
    for stream in (result.stderr, result.stdout):
        lines = stream.decode("utf-8", "replace").strip().splitlines()
        if lines:
            return lines[-1]
    return f"exit code {result.returncode}"


def repository_top(path: Path) -> Path:
    """The top folder of the git work tree containing `path`."""
    result = Git(path).run("rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise IsolationError(f"isolation needs a git repository; {path} is not in one")
    return Path(result.stdout.decode().strip()).resolve()
