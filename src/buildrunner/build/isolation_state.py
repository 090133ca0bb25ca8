"""What an isolated session remembers across a restart: refs in git, and a small JSON journal.

Git holds the work itself (the snapshot, each task's branch, the integration tip); the journal
`.buildrunner/isolation/<session>/state.json` holds what the refs cannot say: each task's base,
worktree and state. Only the session's owner writes it, always whole (temp file + rename), so a
kill -9 leaves either the old or the new journal, never half of one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from buildrunner.build.git import IsolationError

STATE_FILE = "state.json"
# the ref namespace of a session's private refs; task branches live under refs/heads/br/<session>/
PRIVATE_REFS = "refs/buildrunner"
BRANCH_PREFIX = "br"

# open: workspace made | unchanged: no change to commit | committed: change on its branch |
# merged: in the integration tree | conflict: did not merge | landed: in the user's tree |
# kept: merged, but files the user changed meanwhile were not written | discarded: dropped
TASK_STATES = (
    "open",
    "unchanged",
    "committed",
    "merged",
    "conflict",
    "landed",
    "kept",
    "discarded",
)
# states whose work exists only on the task's branch (cleanup keeps such a branch unless forced)
UNLANDED_WORK = ("committed", "merged", "conflict", "kept")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def ref_component(name: str) -> str:
    """`name` as one ref (and folder) name component: reversible, always valid for git.

    Characters other than letters, digits, '_', '.' and '-' become %XX; dots are escaped where
    git forbids them (leading, doubled, trailing, a '.lock' ending).
    """
    text = _UNSAFE.sub(lambda match: f"%{ord(match.group()):02X}", name)
    if text.startswith("."):
        text = "%2E" + text[1:]
    while ".." in text:
        text = text.replace("..", ".%2E")
    if text.endswith("."):
        text = text[:-1] + "%2E"
    if text.endswith(".lock"):
        text = text[: -len(".lock")] + "%2Elock"
    if not text:
        raise IsolationError("an empty name cannot be isolated")
    return text


def task_branch(session_id: str, task_id: str) -> str:
    """The branch (short name) that holds a task's work: br/<session>/<task>."""
    return f"{BRANCH_PREFIX}/{ref_component(session_id)}/{ref_component(task_id)}"


def session_ref(session_id: str, name: str) -> str:
    """A private ref of the session: refs/buildrunner/<session>/<name>."""
    return f"{PRIVATE_REFS}/{ref_component(session_id)}/{name}"


@dataclass
class TaskRecord:
    task_id: str
    branch: str
    worktree: str
    base: str  # the commit the workspace started from
    state: str = "open"
    commit: str | None = None  # the task's last committed change
    files: list[str] = field(default_factory=list)  # paths the change touches
    merge_commit: str | None = None  # the integration tip that first held it
    conflicts: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # its files left in the user's version
    released: bool = False  # its worktree went back to the session's pool


@dataclass
class SessionState:
    session_id: str
    repo: str
    snapshot: str | None = None
    head: str | None = None  # the user's HEAD when the snapshot was taken
    landed: str | None = None  # the integration tip last landed in the user's tree
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    free: list[str] = field(default_factory=list)  # pooled worktrees, ready for the next task

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionState:
        tasks = {key: TaskRecord(**value) for key, value in data.get("tasks", {}).items()}
        return cls(**{**data, "tasks": tasks})


def session_dir(data_dir: Path, session_id: str) -> Path:
    """`.buildrunner/isolation/<session>/`: the journal and temporary indexes."""
    return data_dir / "isolation" / ref_component(session_id)


def load_state(data_dir: Path, session_id: str, repo: Path) -> SessionState:
    """The session's journal, or a fresh one."""
    path = session_dir(data_dir, session_id) / STATE_FILE
    try:
        return SessionState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return SessionState(session_id, str(repo))
    except (OSError, ValueError, TypeError) as exc:
        raise IsolationError(f"cannot read the isolation journal {path}: {exc}") from None


def save_state(data_dir: Path, state: SessionState) -> None:
    """Write the journal whole (temp file, rename). No fsync: it is saved after every step, and
    what it must survive is the owner's death, not the machine's (the refs are git's)."""
    write_json_atomic(
        session_dir(data_dir, state.session_id) / STATE_FILE, state.to_json(), durable=False
    )


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    """`data` as JSON at `path`, replacing it in one step (a crash leaves old or new, not half);
    `durable` also waits for the disk (fsync) before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def known_sessions(data_dir: Path) -> list[Path]:
    """Journal folders of every isolated session on disk."""
    root = data_dir / "isolation"
    return sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else []
