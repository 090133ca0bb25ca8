"""What runs inside a Ray worker process for one attempt (see backends/ray.py).

Kept apart from the driver side so the module a Ray worker imports is small, and importing it does
not need Ray.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from buildrunner.executors.command import kill_process_group
from buildrunner.parallel.protocol import TaskOutcome, TaskRun

# Task output sent back to the orchestrator when the node cannot write the log file itself.
LOG_RETURN_MAX_BYTES = 10_000_000
# The reaper: a line on stdin means the task ended normally; EOF means the Ray worker died.
# It detaches (runs in a background subshell) because Ray kills a cancelled worker's children.
REAPER_SCRIPT = 'exec 3<&0; (read line <&3 || kill -9 -"$0") >/dev/null 2>&1 & exit 0'


def run_attempt(
    task_data: dict[str, Any], *, direct_log: bool = True, driver_node: str | None = None
) -> dict[str, Any]:
    """Run one attempt in a Ray worker process; returns the outcome, events and maybe the log."""
    from buildrunner.executors.command import CommandRunner
    from buildrunner.parallel.worker import execute

    task = TaskRun.from_dict(task_data)
    node = _current_node()
    on_driver_node = driver_node is not None and node == driver_node
    log_here = direct_log or on_driver_node
    result: dict[str, Any] = {"events": [], "log": None, "node": node, "pid": os.getpid(),
                              "host": socket.gethostname()}
    if not Path(task.workdir).is_dir():
        outcome = TaskOutcome(
            task.task_id, task.attempt, "failed", error_type="workdir_missing",
            error=f"working directory {task.workdir} does not exist on {socket.gethostname()}: "
                  "check the repository out at the same path on every Ray node, or use a shared "
                  "filesystem",
        )
        result["outcome"] = outcome.to_dict()
        return result
    scratch = None
    if not log_here:
        handle, name = tempfile.mkstemp(prefix=f"br-{task.task_id}-", suffix=".log")
        os.close(handle)
        scratch = Path(name)
        task.log_path = str(scratch)
    reaper = _Reaper()

    def emit(message: dict[str, Any]) -> None:
        if message.get("type") == "started":
            reaper.watch(int(message["pid"]))
        elif message.get("type") == "event":
            result["events"].append(message)

    runner = CommandRunner()
    try:
        outcome = execute(task, emit, runner)
    except Exception as exc:  # an executor bug is this attempt's failure, not a lost worker
        outcome = TaskOutcome(task.task_id, task.attempt, "failed", error_type="internal",
                              error=repr(exc))
    except BaseException:  # Ray's cancel interrupts us (KeyboardInterrupt, SystemExit)
        runner.cancel()
        raise  # the reaper is not released: it kills the group too once this worker exits
    if outcome.exit_code is not None and outcome.exit_code < 0:
        # killed by a signal, e.g. Ray killing a cancelled worker's children: not its whole group
        reaper.kill_group()
    reaper.release()
    result["outcome"] = outcome.to_dict()
    if scratch is not None:
        result["log"] = _read_tail(scratch)
        with contextlib.suppress(OSError):
            scratch.unlink()
    return result


def _current_node() -> str | None:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:
        return None


def _read_tail(path: Path) -> str:
    with contextlib.suppress(OSError), open(path, "rb") as log:
        size = log.seek(0, os.SEEK_END)
        log.seek(max(0, size - LOG_RETURN_MAX_BYTES))
        return log.read().decode("utf-8", errors="replace")
    return ""


class _Reaper:
    """Kills a task's process group when the Ray worker running it dies (kill -9, force-cancel).

    A small detached shell holds the read end of a pipe from this process; EOF without a line means
    we are gone, and it kills the group. `release()` writes the line when the task ended normally.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._pgid: int | None = None

    def watch(self, pgid: int) -> None:
        self._pgid = pgid
        with contextlib.suppress(OSError):
            process = subprocess.Popen(
                ["/bin/sh", "-c", REAPER_SCRIPT, str(pgid)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
            self._process = process
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)  # the launcher exits at once; its subshell stays

    def kill_group(self) -> None:
        if self._pgid is not None:
            kill_process_group(self._pgid)

    def release(self) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            process.stdin.write(b"done\n")
            process.stdin.close()
