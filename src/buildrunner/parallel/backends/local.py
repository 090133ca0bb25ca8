"""The local backend: N worker processes on this machine, talking JSON lines over pipes."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import sys
import time
import uuid

from buildrunner.parallel.backends import BackendMessage, WorkerInfo
from buildrunner.parallel.protocol import TaskOutcome, TaskRun, decode, encode, write_all
from buildrunner.process import kill_process_group


class _Worker:
    def __init__(self, worker_id: str, process: subprocess.Popen[bytes]) -> None:
        self.info = WorkerInfo(
            worker_id, process.pid, socket.gethostname(), last_heartbeat=time.time()
        )
        self.process = process
        self.buffer = b""
        self.queued: tuple[str, int] | None = None  # an attempt waiting in the worker's queue
        self.ready = False
        self.gone = False


class LocalBackend:
    """A pool of real worker processes (`python -m buildrunner.parallel.worker`)."""

    name = "local"

    def __init__(self, *, heartbeat_interval_s: float = 2.0, session_id: str = "") -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.session_id = session_id
        self._workers: dict[str, _Worker] = {}
        self._selector = selectors.DefaultSelector()
        self._counter = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, workers: int) -> list[WorkerInfo]:
        for _ in range(workers):
            self._spawn()
        return self.workers()

    def _spawn(self) -> WorkerInfo:
        self._counter += 1
        worker_id = f"w{self._counter}-{uuid.uuid4().hex[:6]}"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "buildrunner.parallel.worker",
                worker_id,
                str(self.heartbeat_interval_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            close_fds=True,
            # out of the terminal's process group: Ctrl-C goes to the orchestrator, which stops
            # the workers itself (else each worker dies of it and prints a traceback)
            start_new_session=True,
        )
        worker = _Worker(worker_id, process)
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        self._selector.register(process.stdout, selectors.EVENT_READ, worker_id)
        self._workers[worker_id] = worker
        return worker.info

    def replace_worker(self, worker_id: str) -> WorkerInfo | None:
        """Start a fresh worker in place of a lost one."""
        self._workers.pop(worker_id, None)
        return self._spawn()

    def shutdown(self, grace_s: float = 1.0) -> None:
        """Stop every worker: its stdin is closed so it stops its task and exits by itself (its
        exit handlers run); a worker still there after `grace_s` is killed with its task.

        A task is killed here at once only when nothing is queued behind it: otherwise the worker
        could start the queued task before it reads the end of its input.
        """
        workers = list(self._workers.values())
        for worker in workers:
            if worker.info.task_pid is not None and worker.queued is None:
                kill_process_group(worker.info.task_pid)
            with contextlib.suppress(Exception):
                worker.process.stdin.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + grace_s
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
            self._close(worker)
        self._workers.clear()
        with contextlib.suppress(Exception):
            self._selector.close()

    def _close(self, worker: _Worker) -> None:
        """Kill the worker (if alive), then its task's process group; release its pipes."""
        process = worker.process
        with contextlib.suppress(Exception):
            self._selector.unregister(process.stdout)  # type: ignore[arg-type]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()  # first: a dead worker cannot start the task queued behind
        if worker.info.task_pid is not None:
            kill_process_group(worker.info.task_pid)
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            process.wait(timeout=5)
        worker.gone = True

    # -- scheduling ------------------------------------------------------------------------
    def workers(self) -> list[WorkerInfo]:
        return [worker.info for worker in self._workers.values()]

    def idle_workers(self) -> list[str]:
        return [
            worker_id
            for worker_id, worker in self._workers.items()
            if worker.ready
            and not worker.gone
            and worker.info.busy_with is None
            and worker.queued is None
        ]

    def prefetch_slots(self) -> list[str]:
        """Busy workers that can take one attempt into their queue, to start when they are free."""
        return [
            worker_id
            for worker_id, worker in self._workers.items()
            if worker.ready
            and not worker.gone
            and worker.info.busy_with is not None
            and worker.queued is None
        ]

    def dispatch(self, worker_id: str, task: TaskRun) -> None:
        """Start `task` on an idle worker, or queue it behind a busy worker's attempt."""
        worker = self._workers[worker_id]
        if worker.info.busy_with is None and worker.queued is None:
            worker.info.busy_with = (task.task_id, task.attempt)
            worker.info.task_pid = None
        else:
            worker.queued = (task.task_id, task.attempt)
        self._send(worker, {"type": "run", "task": task.to_dict()})

    def revoke(self, worker_id: str) -> None:
        """Ask for a queued attempt back: a "revoked" message, or "started" if it was too late."""
        worker = self._workers.get(worker_id)
        if worker is not None and worker.queued is not None:
            task_id, attempt = worker.queued
            self._send(worker, {"type": "revoke", "task_id": task_id, "attempt": attempt})

    def cancel(self, worker_id: str) -> None:
        worker = self._workers.get(worker_id)
        if worker is not None:
            # the worker marks the attempt cancelled before it kills the task (so it reports
            # "cancelled", not "killed by a signal"); the direct kill is the backstop. Not with
            # an attempt queued behind: the worker must give that back before its current task
            # ends, or it would start it (a hung worker is caught by the heartbeat timeout)
            self._send(worker, {"type": "cancel"})
            if worker.info.task_pid is not None and worker.queued is None:
                kill_process_group(worker.info.task_pid)

    def answer(self, worker_id: str, message: dict[str, object]) -> None:
        worker = self._workers.get(worker_id)
        if worker is not None and not worker.gone:
            self._send(worker, message)

    def kill_worker(self, worker_id: str, reason: str) -> BackendMessage | None:
        """Kill a worker that stopped heartbeating; report the attempt it was running."""
        worker = self._workers.get(worker_id)
        if worker is None or worker.gone:
            return None
        task = worker.info.busy_with
        self._close(worker)
        return BackendMessage("lost", worker_id, reason=reason, task=task)

    def _send(self, worker: _Worker, message: dict[str, object]) -> None:
        try:
            assert worker.process.stdin is not None
            write_all(worker.process.stdin.fileno(), encode(message))
        except (BrokenPipeError, OSError, ValueError):
            pass  # the worker died; poll() reports it

    # -- events ------------------------------------------------------------------------------
    def poll(self, timeout_s: float) -> list[BackendMessage]:
        messages: list[BackendMessage] = []
        if not self._workers:
            time.sleep(min(timeout_s, 0.05))
            return messages
        for key, _ in self._selector.select(timeout=max(timeout_s, 0.0)):
            worker = self._workers.get(key.data)
            if worker is None:
                continue
            try:
                chunk = os.read(key.fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                messages.append(self._lost(worker))
                continue
            worker.buffer += chunk
            *lines, worker.buffer = worker.buffer.split(b"\n")
            for line in lines:
                message = self._parse(worker, line)
                if message is not None:
                    messages.append(message)
        return messages

    def _lost(self, worker: _Worker) -> BackendMessage:
        task = worker.info.busy_with
        returncode = worker.process.poll()
        if returncode is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                returncode = worker.process.wait(timeout=1)
        self._close(worker)
        how = (
            f"signal {-returncode}"
            if returncode is not None and returncode < 0
            else (f"exit code {returncode}")
        )
        return BackendMessage(
            "lost", worker.info.worker_id, reason=f"worker process died ({how})", task=task
        )

    def _parse(self, worker: _Worker, line: bytes) -> BackendMessage | None:
        if not line.strip():
            return None
        try:
            message = decode(line)
        except ValueError:
            return None
        worker.info.last_heartbeat = time.time()
        kind = message.get("type")
        worker_id = worker.info.worker_id
        if kind == "hello":
            worker.ready = True
            return BackendMessage("worker_ready", worker_id)
        if kind == "hb":
            return BackendMessage("heartbeat", worker_id)
        if kind == "started":
            attempt = (message.get("task_id"), message.get("attempt"))
            if attempt == worker.queued:
                worker.info.busy_with, worker.queued = worker.queued, None
            worker.info.task_pid = int(message["pid"])
            return BackendMessage("started", worker_id, task=worker.info.busy_with)
        if kind == "revoked":
            attempt = (message.get("task_id"), message.get("attempt"))
            if attempt != worker.queued:
                return None
            worker.queued = None
            return BackendMessage("revoked", worker_id, task=attempt)
        if kind in ("event", "reserve", "release"):
            return BackendMessage(kind, worker_id, event=message, task=worker.info.busy_with)
        if kind == "done":
            outcome = TaskOutcome.from_dict(message["outcome"])
            worker.info.busy_with = None
            worker.info.task_pid = None
            return BackendMessage("done", worker_id, outcome=outcome)
        return None
