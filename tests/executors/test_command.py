"""Command tasks with real processes: exit codes, timeouts through the shared watchdog, cancel."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from buildrunner.executors.command import WATCHDOG, CommandRunner, Watchdog
from buildrunner.parallel.locks import pid_alive


@pytest.mark.parametrize("owns_cwd", [True, False], ids=["posix_spawn", "popen"])
def test_exit_codes_and_output(tmp_path: Path, owns_cwd: bool) -> None:
    runner = CommandRunner(owns_cwd=owns_cwd)
    log = tmp_path / "out.log"
    ok = runner.run("echo hello", cwd=tmp_path, env=os.environ, log_path=log)
    assert ok.exit_code == 0 and ok.error is None and log.read_text() == "hello\n"
    failed = runner.run("exit 3", cwd=tmp_path, env=os.environ, log_path=log)
    assert failed.exit_code == 3 and failed.error == "exit code 3"
    missing = runner.run("no-such-program-xyz", cwd=tmp_path, env=os.environ, log_path=log)
    assert missing.exit_code == 127 and "not found" in (missing.error or "")


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    runner = CommandRunner(owns_cwd=True)
    started = time.monotonic()
    # the child of the shell must die too, or the pipe keeps `wait` from returning
    result = runner.run(
        "sleep 30 & echo $! > child.pid; wait",
        cwd=tmp_path,
        env=os.environ,
        log_path=tmp_path / "t.log",
        timeout_s=0.5,
    )
    assert result.timed_out and result.error == "timed out after 0.5s"
    assert time.monotonic() - started < 20
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 10  # the kill is asynchronous: wait for it, do not guess
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(child)  # (a zombie until init reaps it counts as dead)


def test_a_command_that_ends_in_time_leaves_no_deadline_behind(tmp_path: Path) -> None:
    runner = CommandRunner(owns_cwd=True)
    for _ in range(20):
        result = runner.run(
            "true", cwd=tmp_path, env=os.environ, log_path=tmp_path / "t.log", timeout_s=3600
        )
        assert result.exit_code == 0 and not result.timed_out
    assert not WATCHDOG._heap


def test_cancel_from_another_thread_stops_the_command(tmp_path: Path) -> None:
    runner = CommandRunner(owns_cwd=True)
    threading.Timer(0.3, runner.cancel).start()
    result = runner.run("sleep 30", cwd=tmp_path, env=os.environ, log_path=tmp_path / "t.log")
    assert result.cancelled and result.error == "cancelled"


def test_watchdog_fires_by_deadline_and_skips_cancelled() -> None:
    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    watchdog.schedule(0.3, lambda: (fired.append("late"), done.set()))
    early = watchdog.schedule(0.05, lambda: fired.append("cancelled"))
    watchdog.schedule(0.1, lambda: fired.append("first"))
    watchdog.schedule(0.15, lambda: 1 / 0)  # a failing callback does not stop the others
    watchdog.cancel(early)
    assert done.wait(10)
    assert fired == ["first", "late"]
