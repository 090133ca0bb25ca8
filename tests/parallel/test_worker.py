"""A real worker process spoken to over its pipes: run, queue behind, revoke, cancel."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildrunner.parallel.locks import pid_alive
from buildrunner.parallel.protocol import TaskRun
from tests.parallel.waiting import wait_for


class Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "buildrunner.parallel.worker", "w-test", "30"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.next()["type"] == "hello"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def run(self, task: TaskRun) -> None:
        self.send({"type": "run", "task": task.to_dict()})

    def next(self, timeout_s: float = 10.0) -> dict[str, Any]:
        return self.lines.get(timeout=timeout_s)

    def quiet_for(self, seconds: float) -> bool:
        try:
            self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def worker() -> Iterator[Worker]:
    running = Worker()
    yield running
    running.process.kill()
    running.process.wait()


def task(tmp_path: Path, task_id: str, command: str) -> TaskRun:
    return TaskRun(
        session_id="s",
        task_id=task_id,
        attempt=1,
        kind="command",
        workdir=str(tmp_path),
        log_path=str(tmp_path / f"{task_id}.log"),
        run=command,
    )


def summary(message: dict[str, Any]) -> tuple[str, str, str]:
    if message["type"] == "done":
        return ("done", message["outcome"]["task_id"], message["outcome"]["status"])
    return (message["type"], message["task_id"], "")


def test_an_attempt_sent_while_another_runs_starts_after_it(worker: Worker, tmp_path: Path) -> None:
    worker.run(task(tmp_path, "a", "sleep 0.3"))
    worker.run(task(tmp_path, "b", "touch b.txt"))
    seen = [summary(worker.next()) for _ in range(4)]
    assert seen == [
        ("started", "a", ""),
        ("done", "a", "succeeded"),
        ("started", "b", ""),
        ("done", "b", "succeeded"),
    ]
    assert (tmp_path / "b.txt").exists()


def test_a_queued_attempt_can_be_revoked_before_it_starts(worker: Worker, tmp_path: Path) -> None:
    worker.run(task(tmp_path, "a", "sleep 0.5"))
    worker.run(task(tmp_path, "b", "touch b.txt"))
    assert summary(worker.next()) == ("started", "a", "")
    worker.send({"type": "revoke", "task_id": "b", "attempt": 1})
    assert worker.next() == {"type": "revoked", "task_id": "b", "attempt": 1}
    assert summary(worker.next()) == ("done", "a", "succeeded")
    assert worker.quiet_for(0.5)
    assert not (tmp_path / "b.txt").exists()


def test_revoking_a_started_attempt_changes_nothing(worker: Worker, tmp_path: Path) -> None:
    worker.run(task(tmp_path, "a", "sleep 0.3"))
    assert summary(worker.next()) == ("started", "a", "")
    worker.send({"type": "revoke", "task_id": "a", "attempt": 1})
    assert summary(worker.next()) == ("done", "a", "succeeded")


def test_cancel_stops_the_running_attempt_and_gives_back_the_queued_one(
    worker: Worker, tmp_path: Path
) -> None:
    worker.run(task(tmp_path, "a", "sleep 30"))
    worker.run(task(tmp_path, "b", "touch b.txt"))
    assert summary(worker.next()) == ("started", "a", "")
    started = time.monotonic()
    worker.send({"type": "cancel"})
    assert worker.next() == {"type": "revoked", "task_id": "b", "attempt": 1}
    assert summary(worker.next()) == ("done", "a", "cancelled")
    assert time.monotonic() - started < 10
    assert worker.quiet_for(0.5)
    assert not (tmp_path / "b.txt").exists()
    worker.run(task(tmp_path, "c", "true"))  # the worker goes on taking work
    assert summary(worker.next()) == ("started", "c", "")


def test_closing_stdin_stops_the_task_and_the_worker_exits_cleanly(
    worker: Worker, tmp_path: Path
) -> None:
    worker.run(task(tmp_path, "a", "sleep 30"))
    worker.run(task(tmp_path, "b", "touch b.txt"))
    started = worker.next()
    assert summary(started) == ("started", "a", "")
    assert worker.process.stdin is not None
    worker.process.stdin.close()  # the orchestrator is gone
    assert worker.process.wait(timeout=10) == 0  # exited by itself (exit handlers ran)
    wait_for(lambda: not pid_alive(started["pid"]), what="the task to die with its worker")
    assert not (tmp_path / "b.txt").exists()  # the worker is gone: nothing can start b now
