"""Waiting in tests without sleeps that prove nothing: deadlines, gates, and what a process read.

A test that sleeps and then asserts "nothing happened" passes just as well when the thing it
watches is broken or slow. These helpers wait for a positive sign instead: a condition polled
until a deadline, a task that cannot finish until the test opens its gate, the bytes a worker
process has read (it has received a message), or a process that is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# gate.py NAME: the task blocks until the test creates gates/NAME, then appends NAME to runs.log
GATE_SCRIPT = """\
import os, sys, time
name = sys.argv[1]
gate = os.path.join(os.environ.get("GATES", "gates"), name)
deadline = time.monotonic() + 300
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.02)
with open(os.path.join(os.environ.get("GATES", "gates"), "..", "runs.log"), "a") as log:
    log.write(name + "\\n")
"""


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g}s")
        time.sleep(0.02)


def write_gates(project: Path) -> Path:
    """gate.py and an empty gates/ folder in the project; returns the script."""
    (project / "gates").mkdir(exist_ok=True)
    script = project / "gate.py"
    script.write_text(GATE_SCRIPT)
    return script


def open_gate(project: Path, *names: str) -> None:
    for name in names:
        (project / "gates" / name).touch()


def bytes_read(pid: int) -> int:
    """All bytes the process has read so far (/proc/PID/io rchar: pipes included)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no rchar for process {pid}")


def process_gone(pid: int) -> bool:
    """True when the process has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def owner_went_round(db: Path, worker_id: str, since: float) -> bool:
    """True once the session's owner has recorded a heartbeat of `worker_id` later than `since`.

    The owner handles worker messages, dispatches and records heartbeats in one transaction per
    round, so a heartbeat newer than an event means a whole round (with its dispatch) ran after
    that event: whatever that round would have done is visible by now.
    """
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT last_heartbeat FROM workers WHERE id = ?", (worker_id,)
        ).fetchone()
    finally:
        conn.close()
    return row is not None and row[0] > since


def dispatch_round_done(db: Path, task_id: str) -> bool:
    """True once the owner has gone a round past the one that started `task_id` (running): what
    it sent its worker in that round (a queued-ahead task) has been sent."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT t.worker_id, t.started_at FROM tasks t WHERE t.task_id = ?"
            " AND t.status = 'running'",
            (task_id,),
        ).fetchone()
    finally:
        conn.close()
    return row is not None and owner_went_round(db, row[0], row[1])
