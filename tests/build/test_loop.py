"""The session loop against real `br` processes sharing one project store."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

from buildrunner.store.db import Store
from tests.conftest import BR, run_br, write_plan


def _succeeded(root: Path, name: str) -> int:
    conn = Store(root).connect()
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM tasks JOIN sessions ON sessions.id = tasks.session_id"
            " WHERE sessions.name = ? AND tasks.status = 'succeeded'",
            (name,),
        ).fetchone()
        return int(row[0])
    finally:
        conn.close()


def test_a_stalled_terminal_never_blocks_other_sessions(project: Path) -> None:
    # session A prints progress into a pipe nobody reads (a pager, Ctrl-S, `| sleep 60`): it
    # must block outside any write transaction, so session B still gets the database
    tasks = "".join(f"  - id: t{i}\n    run: 'true'\n" for i in range(600))
    write_plan(project, f"name: stalled\ntasks:\n{tasks}", "a.yaml")
    write_plan(
        project,
        "name: other\ntasks:\n  - id: x\n    run: 'true'\n  - id: y\n    run: 'true'\n",
        "b.yaml",
    )
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)  # the smallest pipe: A stalls early
    stalled = subprocess.Popen(
        [*BR, "run", "a.yaml", "--workers", "1"],
        stdout=write_end,
        stderr=write_end,
        stdin=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        # wait until A is stuck: it has done some tasks and stopped making progress
        deadline = time.monotonic() + 60
        last, still_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            done = _succeeded(project, "stalled")
            if done != last:
                last, still_since = done, time.monotonic()
            elif done > 0 and time.monotonic() - still_since > 1.5:
                break
            time.sleep(0.1)
        assert 0 < last < 600, "session A never stalled on its full pipe"
        other = run_br("run", "b.yaml", "--json", env={"BR_STORE_BUSY_TIMEOUT_S": "1"})
        assert other.returncode == 0, other.stderr
        assert _succeeded(project, "other") == 2
    finally:
        stalled.kill()
        stalled.wait()
        os.close(read_end)
