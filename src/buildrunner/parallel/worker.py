"""A worker process: takes task attempts from the orchestrator on stdin, reports on stdout.

Started as `python -m buildrunner.parallel.worker WORKER_ID HEARTBEAT_S`. It sends a heartbeat every
HEARTBEAT_S seconds while alive. Attempts run one at a time; an attempt sent while another runs
waits in the worker's queue (the orchestrator queues a short task ahead so the worker never waits
for a round trip) until it starts or the orchestrator revokes it. When its stdin closes (the
orchestrator is gone or ends the build) it kills the task it runs, starts nothing more and exits,
so a killed orchestrator never leaves orphans behind.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from buildrunner.parallel.protocol import TaskOutcome, TaskRun, decode, encode, write_all


class Channel:
    """Thread-safe line writer to the orchestrator (straight to the pipe: nothing buffered)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.broken = False

    def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        with self._lock:
            try:
                write_all(self._fd, data)
            except OSError:
                self.broken = True


def execute(
    task: TaskRun,
    emit: Callable[[dict[str, Any]], None],
    runner: Any,
    base_env: Mapping[str, str] | None = None,
    budget: Any = None,
) -> TaskOutcome:
    """Run one attempt with the executor for its kind (tasks get `base_env` + their own env).

    `budget` is the agent attempt's broker (reservations before each model call); without one,
    an attempt that carries a dispatch-time allowance (`agent["allowance_usd"]`, the Ray backend)
    spends within it.
    """
    env = os.environ if base_env is None else base_env
    if task.kind == "command":
        return _execute_command(task, emit, runner, env)
    from buildrunner.build.attempt import run_agent_attempt

    if budget is None and task.agent.get("allowance_usd") is not None:
        from decimal import Decimal

        from buildrunner.parallel.brokers import FixedAllowance

        budget = FixedAllowance(Decimal(str(task.agent["allowance_usd"])))
    started = time.monotonic()
    outcome = run_agent_attempt(
        task,
        lambda event: emit({"type": "event", "event": event}),
        should_stop=lambda: bool(runner.cancelled),  # cancel stops the loop before its next call
        budget=budget,
        base_env=env,
        runner_factory=lambda: runner,
    )
    outcome.duration_s = outcome.duration_s or time.monotonic() - started
    return outcome


def _execute_command(
    task: TaskRun,
    emit: Callable[[dict[str, Any]], None],
    runner: Any,
    base_env: Mapping[str, str],
) -> TaskOutcome:
    env = {**base_env, **task.env}
    result = runner.run(
        task.run or "",
        cwd=Path(task.workdir),
        env=env,
        log_path=Path(task.log_path),
        timeout_s=task.timeout_s,
        on_start=lambda pid: emit(
            {"type": "started", "task_id": task.task_id, "attempt": task.attempt, "pid": pid}
        ),
    )
    finish_log(Path(task.log_path), task.log_max_bytes)
    status: Literal["succeeded", "failed", "cancelled"]
    if result.exit_code == 0 and not result.cancelled:
        status, error_type = "succeeded", None
    elif result.cancelled:
        status, error_type = "cancelled", "cancelled"
    else:
        status = "failed"
        error_type = (
            "timeout"
            if result.timed_out
            else ("not_found" if result.exit_code == 127 else "exit_code")
        )
    return TaskOutcome(
        task_id=task.task_id,
        attempt=task.attempt,
        status=status,
        exit_code=result.exit_code,
        duration_s=result.duration_s,
        cpu_s=result.cpu_s,
        max_rss_mb=result.max_rss_mb,
        error_type=error_type,
        error=result.error,
    )


def finish_log(path: Path, max_bytes: int) -> None:
    """Mask secrets in a task log in place, and keep only its last `max_bytes` if it is longer.

    Task output can echo credentials; huge outputs would fill the disk over many sessions.
    """
    from buildrunner.security.masking import mask_text

    try:
        size = path.stat().st_size
        if size == 0:
            return
        with path.open("rb") as handle:
            if size > max_bytes:
                handle.seek(size - max_bytes)
            data = handle.read()
        text = data.decode("utf-8", errors="replace")
        masked = mask_text(text)
        if size > max_bytes:
            masked = (
                f"[BuildRunner: the first {size - max_bytes} bytes of this log were dropped]\n"
                + masked
            )
        if masked != text or size > max_bytes:
            path.write_text(masked, encoding="utf-8")
    except OSError:
        return


def main(argv: list[str]) -> int:
    from buildrunner.executors.command import CommandRunner
    from buildrunner.parallel.brokers import RemoteBudget

    worker_id, heartbeat_s = argv[0], float(argv[1])
    channel = Channel(sys.stdout.fileno())
    stopping = threading.Event()
    # the attempt running now (its runner) and attempts queued behind it, under one condition
    ready = threading.Condition()
    pending: deque[TaskRun] = deque()
    state: dict[str, Any] = {"runner": None, "broker": None}
    base_env = dict(os.environ)  # copied once: tasks add their own variables to it

    def heartbeat() -> None:
        while not stopping.wait(heartbeat_s):
            channel.send({"type": "hb", "ts": time.time()})
            if channel.broken:
                _abandon(state)

    def run_tasks() -> None:
        while True:
            with ready:
                while not pending:
                    ready.wait()
                task = pending.popleft()
                # set before the lock is released: a cancel from now on reaches this attempt
                runner = state["runner"] = CommandRunner(owns_cwd=True)
                broker = state["broker"] = (
                    RemoteBudget(channel.send, task.task_id, task.attempt)
                    if task.kind == "agent"
                    else None
                )
            try:
                outcome = execute(task, channel.send, runner, base_env, broker)
            except Exception as exc:  # an executor bug must not kill the worker silently
                outcome = TaskOutcome(
                    task.task_id, task.attempt, "failed", error_type="internal", error=repr(exc)
                )
            with ready:
                state["runner"] = state["broker"] = None
            channel.send({"type": "done", "outcome": outcome.to_dict()})

    channel.send({"type": "hello", "worker_id": worker_id, "pid": os.getpid()})
    threading.Thread(target=heartbeat, daemon=True).start()
    threading.Thread(target=run_tasks, daemon=True).start()
    for line in sys.stdin.buffer:
        try:
            message = decode(line)
        except ValueError:
            continue
        kind = message["type"]
        if kind == "run":
            with ready:
                pending.append(TaskRun.from_dict(message["task"]))
                ready.notify()
        elif kind == "revoke":
            # give back a queued attempt that has not started; one that has started is not
            # revoked (its "started" and "done" tell the orchestrator)
            with ready:
                for task in pending:
                    if (task.task_id, task.attempt) == (message["task_id"], message["attempt"]):
                        pending.remove(task)
                        channel.send(
                            {"type": "revoked", "task_id": task.task_id, "attempt": task.attempt}
                        )
                        break
        elif kind == "cancel":
            # the running attempt stops; attempts queued behind it are given back, not started
            with ready:
                runner = state["runner"]
                while pending:
                    task = pending.popleft()
                    channel.send(
                        {"type": "revoked", "task_id": task.task_id, "attempt": task.attempt}
                    )
            if runner is not None:
                runner.cancel()
        elif kind == "reserved":  # the orchestrator's answer to the running attempt's broker
            broker = state["broker"]
            if broker is not None:
                broker.deliver(message)
        elif kind == "stop":
            break
    # stdin closed or stop: never leave the task running without an owner, start nothing more
    stopping.set()
    with ready:
        pending.clear()
        runner = state["runner"]
    if runner is not None:
        runner.cancel()
    return 0  # a normal exit: atexit handlers (e.g. coverage) run; the daemon threads just end


def _abandon(state: dict[str, Any]) -> None:
    """The orchestrator is gone (seen from the heartbeat thread): kill the task and exit now."""
    runner = state.get("runner")
    if runner is not None:
        runner.cancel()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
