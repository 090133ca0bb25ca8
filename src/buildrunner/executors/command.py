"""Running a command task: a shell in its own process group, output to a log file, rusage kept."""

from __future__ import annotations

import heapq
import itertools
import os
import select
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from buildrunner.process import kill_process_group
from buildrunner.security.stream_masking import StreamMasker

_DRAIN_S = 0.2  # after the command exits, how long its output pipe may keep us waiting

# Commands made only of these characters can be exec'd directly (no shell start-up cost).
_SHELL_SPECIAL = set("|&;<>()$`\\\"'*?[]#~=%{}\n!")

# Words a POSIX shell runs itself: a command starting with one always goes through the shell.
SHELL_WORDS = frozenset(
    [
        "!",
        ".",
        ":",
        "[",
        "[[",
        "alias",
        "break",
        "cd",
        "command",
        "continue",
        "echo",
        "eval",
        "exec",
        "exit",
        "export",
        "false",
        "for",
        "if",
        "printf",
        "pwd",
        "read",
        "return",
        "set",
        "shift",
        "test",
        "times",
        "trap",
        "true",
        "type",
        "ulimit",
        "umask",
        "unset",
        "wait",
        "while",
        "until",
        "case",
        "{",
        "(",
        "source",
        "local",
    ]
)


class Watchdog:
    """One thread that fires every command's timeout.

    A thread per command would cost more than a short command itself; here a command's
    deadline is one heap entry, removed when the command ends in time.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> int:
        """Call `callback` (on the watchdog thread) in `delay_s` seconds unless cancelled."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="br-timeouts", daemon=True)
                self._thread.start()
            key = next(self._ids)
            heapq.heappush(self._heap, (time.monotonic() + delay_s, key, callback))
            self._cond.notify()
            return key

    def cancel(self, key: int) -> None:
        with self._cond:
            kept = [entry for entry in self._heap if entry[1] != key]
            if len(kept) != len(self._heap):
                heapq.heapify(kept)
                self._heap = kept

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:  # a failing kill must not stop every later timeout
                continue


WATCHDOG = Watchdog()


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None when it could not start
    duration_s: float
    cpu_s: float
    max_rss_mb: float
    timed_out: bool
    cancelled: bool
    error: str | None  # why it failed to start or was stopped


class CommandRunner:
    """Runs one command and can stop it from another thread (cancel, timeout, lost owner).

    `owns_cwd=True` says the caller runs one command at a time in this process (a worker), so
    the runner may change the process's directory and start the command with posix_spawn,
    about three times cheaper than fork+exec of a Python process.
    """

    def __init__(self, *, owns_cwd: bool = False) -> None:
        self.owns_cwd = owns_cwd
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._cancelled = False

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def run(
        self,
        command: str,
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_path: Path,
        timeout_s: float | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Run `command` to completion; never raises for a failing or missing command.

        Its output goes through a pipe and is masked on its way to `log_path` (see
        security/stream_masking.py): a log never holds a raw secret, even after a kill -9.
        """
        started = time.monotonic()
        if not log_path.parent.is_dir():
            log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = _argv(command)
        if not cwd.is_dir():
            message = f"working directory {cwd} does not exist"
            _append(log_path, message)
            return CommandResult(None, time.monotonic() - started, 0.0, 0.0, False, False, message)
        read_end, write_end = os.pipe()
        try:
            try:
                pid = self._start(argv, cwd, env, write_end)
            except FileNotFoundError:
                message = f"command not found: {argv[0]}"
                _append(log_path, message)
                return CommandResult(
                    127, time.monotonic() - started, 0.0, 0.0, False, False, message
                )
            except OSError as exc:
                message = f"cannot start command: {exc.strerror or exc}"
                _append(log_path, message)
                return CommandResult(
                    None, time.monotonic() - started, 0.0, 0.0, False, False, message
                )
        finally:
            os.close(write_end)  # the child holds its own copy
        with self._lock:
            self._pid = pid
            cancelled_early = self._cancelled
        if cancelled_early:
            self.kill()
        if on_start is not None:
            on_start(pid)
        timed_out = threading.Event()
        timer = None
        if timeout_s is not None:
            timer = WATCHDOG.schedule(timeout_s, lambda: self._on_timeout(timed_out))
        try:
            with open(log_path, "ab", buffering=0) as log:
                _copy_masked(read_end, pid, log)
            _, status, usage = os.wait4(pid, 0)
        finally:
            os.close(read_end)
            if timer is not None:
                WATCHDOG.cancel(timer)
            with self._lock:
                self._pid = None
        exit_code = os.waitstatus_to_exitcode(status)
        cpu_s = usage.ru_utime + usage.ru_stime
        max_rss_mb = usage.ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux
        error = None
        if timed_out.is_set():
            error = f"timed out after {timeout_s:g}s"
        elif self._cancelled:
            error = "cancelled"
        elif exit_code < 0:
            error = f"killed by signal {signal.Signals(-exit_code).name}"
        elif exit_code == 127:
            error = "command not found (exit 127)"
        elif exit_code != 0:
            error = f"exit code {exit_code}"
        return CommandResult(
            exit_code,
            time.monotonic() - started,
            cpu_s,
            max_rss_mb,
            timed_out.is_set(),
            self._cancelled,
            error,
        )

    def _start(self, argv: list[str], cwd: Path, env: Mapping[str, str], output_fd: int) -> int:
        """Start the command in its own process group with stdout and stderr on `output_fd`."""
        if self.owns_cwd:
            return _spawn(argv, cwd, env, output_fd)
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: we can kill the whole tree
            close_fds=True,
        )
        popen.returncode = 0  # reaped by wait4 in run(): Popen must never wait for it itself
        return popen.pid

    def _on_timeout(self, flag: threading.Event) -> None:
        flag.set()
        self.kill()

    def cancel(self) -> None:
        """Stop the command (and everything it started)."""
        with self._lock:
            self._cancelled = True
        self.kill()

    def kill(self) -> None:
        with self._lock:
            pid = self._pid
        if pid is not None:
            kill_process_group(pid)


def _append(log_path: Path, message: str) -> None:
    with open(log_path, "ab") as log:
        log.write((message + "\n").encode())


def _copy_masked(read_fd: int, pid: int, log: BinaryIO) -> None:
    """Copy the command's output from `read_fd` to `log`, masked, until the command has exited.

    The pipe may stay open after the command exits (a background child holding it): once the
    command is gone, what is already in the pipe is drained and the rest is not waited for.
    """
    masker = StreamMasker(log.write)
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    exit_fd = _pidfd(pid)
    if exit_fd is not None:
        poller.register(exit_fd, select.POLLIN)
    exited_at: float | None = None
    pipe_open = True
    try:
        while pipe_open or exited_at is None:
            if exited_at is not None:
                left_s = exited_at + _DRAIN_S - time.monotonic()
                if left_s <= 0:
                    break  # a background child still holds the pipe: stop waiting for it
                wait_ms: int | None = int(left_s * 1000) + 1
            else:
                wait_ms = None if exit_fd is not None else 200  # no pidfd: look now and then
            ready = poller.poll(wait_ms)
            for fd, _ in ready:
                if fd == read_fd:
                    chunk = os.read(read_fd, 65536)
                    if chunk:
                        masker.feed(chunk)
                    else:
                        pipe_open = False
                        poller.unregister(read_fd)
                elif fd == exit_fd and exited_at is None:
                    exited_at = time.monotonic()
                    poller.unregister(exit_fd)
            if exit_fd is None and exited_at is None and _gone(pid):
                exited_at = time.monotonic()
    finally:
        masker.close()
        if exit_fd is not None:
            os.close(exit_fd)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3
        return None


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _spawn(argv: list[str], cwd: Path, env: Mapping[str, str], log_fd: int) -> int:
    """posix_spawn `argv` in its own session with stdout/stderr to `log_fd` (changes our cwd)."""
    program = argv[0]
    if "/" not in program:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(program)
        program = found
    os.chdir(cwd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        return os.posix_spawn(
            program,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,  # own process group: we can kill the whole tree
        )
    finally:
        os.close(devnull)


def _argv(command: str) -> list[str]:
    if not any(char in _SHELL_SPECIAL for char in command):
        try:
            parts = shlex.split(command)
        except ValueError:
            parts = []
        if parts and parts[0] not in SHELL_WORDS:
            return parts
    return ["/bin/sh", "-c", command]
