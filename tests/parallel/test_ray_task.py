"""The Ray worker side without Ray: the reaper that kills a dead worker's task processes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from buildrunner.parallel.backends.ray_task import REAPER_VARIABLE, _Reaper


def until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_task(tmp_path: Path, token: str) -> tuple[subprocess.Popen[bytes], int]:
    """A task as CommandRunner starts it (own session), with a background child of its own."""
    process = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $! > bg.pid; wait"],
        cwd=tmp_path,
        env={**os.environ, REAPER_VARIABLE: token},
        start_new_session=True,
    )
    assert until(lambda: (tmp_path / "bg.pid").exists() and (tmp_path / "bg.pid").read_text())
    return process, int((tmp_path / "bg.pid").read_text())


def test_a_task_whose_start_was_never_reported_dies_with_its_worker(tmp_path: Path) -> None:
    # the race: the worker dies after starting the task, before telling the reaper its group
    reaper = _Reaper().get()
    reaper.expect("a1b2c3")
    task, background = start_task(tmp_path, "a1b2c3")
    try:
        reaper.close()  # the worker is gone
        assert until(lambda: task.poll() is not None and not alive(background))
    finally:
        if task.poll() is None:
            os.killpg(task.pid, 9)
        task.wait()


def test_a_finished_attempts_token_and_group_are_left_alone(tmp_path: Path) -> None:
    reaper = _Reaper().get()
    reaper.expect("d4e5f6")
    reaper.forget("d4e5f6")  # the attempt ended: a process still carrying its token is not ours
    (tmp_path / "done").mkdir()
    task, background = start_task(tmp_path / "done", "d4e5f6")
    reaper.watch(task.pid)
    reaper.release(task.pid)
    # a canary with a live token, started after the task: /proc lists pids in order, so once
    # the reaper has killed the canary it has already passed over the task
    reaper.expect("c0ffee")
    (tmp_path / "live").mkdir()
    canary, canary_background = start_task(tmp_path / "live", "c0ffee")
    try:
        reaper.close()
        assert until(lambda: canary.poll() is not None and not alive(canary_background))
        assert task.poll() is None and alive(background)
    finally:
        for process in (task, canary):
            if process.poll() is None:
                os.killpg(process.pid, 9)
            process.wait()
