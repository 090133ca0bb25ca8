"""What runs inside a Ray worker process for one attempt (see backends/ray.py).

Kept apart from the driver side so the module a Ray worker imports is small, and importing it does
not need Ray.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from buildrunner.parallel.protocol import TaskOutcome, TaskRun
from buildrunner.process import kill_process_group

# Task output sent back to the orchestrator when the node cannot write the log file itself.
LOG_RETURN_MAX_BYTES = 10_000_000
# The reaper: one per Ray worker process. It learns task process groups ("+PGID" when a task
# starts, "-PGID" when it ends) and, when the pipe closes because the worker died (kill -9,
# force-cancel, node shutdown), kills the groups still running. A group is only known once the
# task has started, and the worker can die in between (the task already running, not yet
# reported): so each attempt also gets a token ("?TOKEN" before the start, "!TOKEN" at its end)
# that its processes carry in their environment (REAPER_VARIABLE), and the reaper also kills the
# group of every process that carries a live token (found in /proc, where there is one). It
# double-forks so that it is no child of the worker: Ray kills a cancelled worker's children,
# and the reaper must outlive it.
REAPER_VARIABLE = "BR_REAPER_TOKEN"
REAPER_SCRIPT = """
import os, signal, sys
if os.fork():
    os._exit(0)
os.setsid()
groups, tokens = set(), set()
for line in sys.stdin.buffer:
    kind, value = line[:1], line[1:].strip()
    if kind == b"?":
        tokens.add(value)
    elif kind == b"!":
        tokens.discard(value)
    elif value.isdigit():
        (groups.add if kind == b"+" else groups.discard)(int(value))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
marks = {b"%s=%s" % (VARIABLE, token) for token in tokens}
try:
    pids = [int(name) for name in os.listdir("/proc") if name.isdigit()] if marks else []
except OSError:
    pids = []
for pid in pids:
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            environ = set(handle.read().split(b"\\0"))
    except OSError:
        continue
    if marks & environ:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except OSError:
            pass
""".replace("VARIABLE", repr(REAPER_VARIABLE.encode()))


def run_attempt(
    task_data: dict[str, Any], *, direct_log: bool = True, driver_node: str | None = None
) -> dict[str, Any]:
    """Run one attempt in a Ray worker process; returns the outcome, events and maybe the log."""
    from buildrunner.executors.command import CommandRunner
    from buildrunner.parallel.worker import execute

    task = TaskRun.from_dict(task_data)
    log_here = direct_log or (driver_node is not None and _current_node() == driver_node)
    result: dict[str, Any] = {"events": [], "log": None, "pid": os.getpid()}
    if not Path(task.workdir).is_dir():
        outcome = TaskOutcome(
            task.task_id,
            task.attempt,
            "failed",
            error_type="workdir_missing",
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
    reaper = _REAPER.get()
    token = os.urandom(12).hex()
    reaper.expect(token)  # before the start: a death right after it still finds the task
    task.env = {**task.env, REAPER_VARIABLE: token}
    started: list[int] = []

    def emit(message: dict[str, Any]) -> None:
        if message.get("type") == "started":
            started.append(int(message["pid"]))
            reaper.watch(started[-1])
        elif message.get("type") == "event":
            result["events"].append(message)

    runner = CommandRunner()
    try:
        outcome = execute(task, emit, runner)
    except Exception as exc:  # an executor bug is this attempt's failure, not a lost worker
        outcome = TaskOutcome(
            task.task_id, task.attempt, "failed", error_type="internal", error=repr(exc)
        )
    except BaseException:  # Ray's cancel interrupts us (KeyboardInterrupt, SystemExit)
        runner.cancel()
        raise  # the group stays registered: the reaper kills it once this worker exits
    for pgid in started:
        if outcome.exit_code is not None and outcome.exit_code < 0:
            # killed by a signal, e.g. Ray killing a cancelled worker's children: not its group
            kill_process_group(pgid)
        reaper.release(pgid)
    reaper.forget(token)
    result["outcome"] = outcome.to_dict()
    if scratch is not None:
        result["log"] = _read_tail(scratch)
        with contextlib.suppress(OSError):
            scratch.unlink()
    return result


def _current_node() -> str | None:
    try:
        import ray

        if not ray.is_initialized():  # outside Ray; asking would start one
            return None
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
    """This worker process's reaper (see REAPER_SCRIPT); restarted if it is gone."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = 0

    def get(self) -> _Reaper:
        if self._process is None or self._owner_pid != os.getpid():
            self._start()
        return self

    def _start(self) -> None:
        self._owner_pid = os.getpid()
        self._process = None
        with contextlib.suppress(OSError):
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", REAPER_SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)  # the first process exits once it has forked
            self._process = process

    def watch(self, pgid: int) -> None:
        self._send(b"+%d\n" % pgid)

    def release(self, pgid: int) -> None:
        self._send(b"-%d\n" % pgid)

    def expect(self, token: str) -> None:
        self._send(b"?%s\n" % token.encode())

    def forget(self, token: str) -> None:
        self._send(b"!%s\n" % token.encode())

    def close(self) -> None:
        """Stop watching: the reaper kills what is still registered (as on the worker's death)."""
        process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def _send(self, line: bytes) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        try:
            process.stdin.write(line)
            process.stdin.flush()
        except (OSError, ValueError):
            self._process = None  # gone; the next attempt starts a new one


# One reaper per process that runs attempts (a Ray worker runs one attempt at a time).
_REAPER = _Reaper()
