"""The Ray backend: each task attempt runs as a Ray remote task, on any node of a Ray cluster.

The orchestrator stays the single owner of the session (scheduling, locks, budget, store); this
backend only turns `dispatch` into a Ray task and `ray.wait` results into BackendMessages.

Workers are capacity slots: `--workers N` lets N attempts be in flight at once, and Ray places each
one on a node that has the task's `cpus` and `resources`.

Failure semantics (one retry mechanism, ours):
- Ray never retries (`max_retries=0`, `retry_exceptions=False`). A Ray worker process or node that
  dies mid-task comes back as a `lost` message; the orchestrator requeues the attempt (attempt + 1:
  once always, more within the task's `retries`), exactly as for a dead local worker.
- A task that fails (non-zero exit, timeout, an exception inside the remote function, Ray's memory
  monitor killing it) is a `done` message with a failed outcome: the plan's `retries` apply, nothing
  else retries it.
- `cancel()` and `shutdown()` force-cancel in-flight Ray tasks (`ray.cancel(ref, force=True)` kills
  the Ray worker process). Each command task has a tiny reaper process that holds a pipe from the
  Ray worker: when the worker dies, for any reason, the reaper kills the task's process group.
"""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import RayBackendError as RayBackendError
from buildrunner.parallel.backends import BackendMessage, WorkerInfo
from buildrunner.parallel.backends.ray_connect import (
    connection_error,
    needs_probe,
    refuses_without_token,
    token_refusal,
)
from buildrunner.parallel.backends.ray_task import run_attempt
from buildrunner.parallel.protocol import TaskOutcome, TaskRun

INSTALL_HINT = "the Ray backend needs Ray: pip install 'buildrunner[ray]'"
# Memory for a Ray we start ourselves: results are small dicts, so a small object store will do.
LOCAL_OBJECT_STORE_BYTES = 100 * 1024 * 1024
# How Ray errors map to what happened. Anything else from Ray counts as a lost worker.
CANCELLED_ERRORS = ("TaskCancelledError",)
FAILED_ERRORS = {"OutOfMemoryError": "oom", "RayTaskError": "internal"}


def is_client_address(address: str | None) -> bool:
    """True for a Ray Client address (`ray://...`): the driver is not on a cluster node."""
    return bool(address) and str(address).startswith("ray://")


def check_file_writes(
    writing_tasks: list[str], address: str | None, shared_filesystem: bool
) -> None:
    """Refuse a setup where tasks that declare `files` could write where nobody reads it.

    Supported: a local Ray (no address); a cluster whose nodes share the repository's filesystem
    (`shared_filesystem`); or `br` running on a cluster node, where writing tasks are pinned to that
    node. Refused: a Ray Client (`ray://`) connection without a shared filesystem.
    """
    if writing_tasks and is_client_address(address) and not shared_filesystem:
        names = ", ".join(f"'{task}'" for task in writing_tasks[:3])
        more = f" and {len(writing_tasks) - 3} more" if len(writing_tasks) > 3 else ""
        raise RayBackendError(
            f"tasks {names}{more} declare files, but Ray Client ({address}) runs them on nodes "
            "whose writes would be lost; run br on a cluster node (writing tasks are pinned to "
            "it), or set [run] ray_shared_filesystem = true if every node mounts this repository "
            "at the same path"
        )


@dataclass
class _Slot:
    info: WorkerInfo
    ref: Any = None  # the ObjectRef of the attempt in flight
    task: TaskRun | None = None
    cancelled: bool = False
    beat_at: float = 0.0


class RayBackend:
    """Runs task attempts as Ray remote tasks (a local Ray, or a cluster at `address`)."""

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        session_id: str = "",
        shared_filesystem: bool = False,
        heartbeat_interval_s: float = 2.0,
        num_cpus: float | None = None,
    ) -> None:
        self.address = address or None
        self.session_id = session_id
        self.shared_filesystem = shared_filesystem
        self.heartbeat_interval_s = heartbeat_interval_s
        self.num_cpus = num_cpus
        self._slots: dict[str, _Slot] = {}
        self._by_ref: dict[Any, str] = {}
        self._queued: list[BackendMessage] = []
        self._counter = 0
        self._ray: Any = None
        self._remote: Any = None
        self._owned = False  # we called ray.init, so we call ray.shutdown
        self._local = False  # every node is this machine
        self._driver_node: str | None = None
        self._node_resources: list[dict[str, float]] = []
        self._host = "ray"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, workers: int) -> list[WorkerInfo]:
        try:
            import ray
        except ImportError as exc:
            raise RayBackendError(INSTALL_HINT) from exc
        self._ray = ray
        if ray.is_initialized():
            self._local = self.address is None
        else:
            self._init(ray, workers)
        client = is_client_address(self.address)
        if not client:
            self._driver_node = ray.get_runtime_context().get_node_id()
        self._node_resources = [
            dict(node.get("Resources", {}))
            for node in ray.nodes()  # type: ignore[no-untyped-call]  # Ray's API is untyped
            if node.get("Alive")
        ]
        self._host = "ray:local" if self._local else f"ray:{self.address}"
        self._remote = ray.remote(max_retries=0, retry_exceptions=False)(run_attempt)
        for _ in range(workers):
            self._add_slot()
        return self.workers()

    def _init(self, ray: Any, workers: int) -> None:
        # ray.init installs its own SIGTERM handler; the orchestrator's must stay in charge
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": "WARNING",
        }
        try:
            if self.address is None:
                # a Ray of our own, gone when the build ends: its start-up warnings (e.g. about
                # token authentication) tell the user nothing to act on
                ray.init(
                    address="local",
                    num_cpus=self.num_cpus or workers,
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                    **options | {"logging_level": "ERROR"},
                )
                self._local = True
            else:
                if needs_probe(self.address) and refuses_without_token(self.address):
                    raise RayBackendError(token_refusal(self.address))
                ray.init(address=self.address, **options)
        except RayBackendError:
            raise
        except Exception as exc:
            raise RayBackendError(connection_error(self.address, exc)) from exc
        finally:
            for signum, handler in handlers.items():
                with contextlib.suppress(ValueError, TypeError):  # not the main thread
                    signal.signal(signum, handler)
        self._owned = True

    def _add_slot(self) -> WorkerInfo:
        self._counter += 1
        worker_id = f"ray{self._counter}-{uuid.uuid4().hex[:6]}"
        info = WorkerInfo(worker_id, None, self._host, last_heartbeat=time.time())
        self._slots[worker_id] = _Slot(info)
        return info

    def replace_worker(self, worker_id: str) -> WorkerInfo | None:
        """A fresh slot in place of one whose Ray worker died (Ray starts new processes itself)."""
        self._drop(worker_id)
        return self._add_slot()

    def shutdown(self) -> None:
        ray = self._ray
        if ray is None:
            return
        refs = [slot.ref for slot in self._slots.values() if slot.ref is not None]
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if refs:
            # wait for the cancelled workers to die, so their reapers kill the tasks' processes
            with contextlib.suppress(Exception):
                ray.wait(refs, num_returns=len(refs), timeout=10)
        self._slots.clear()
        self._by_ref.clear()
        if self._owned:
            self._owned = False
            with contextlib.suppress(Exception):
                ray.shutdown()
        self._ray = None

    # -- scheduling ------------------------------------------------------------------------
    def workers(self) -> list[WorkerInfo]:
        return [slot.info for slot in self._slots.values()]

    def idle_workers(self) -> list[str]:
        return [worker_id for worker_id, slot in self._slots.items() if slot.info.busy_with is None]

    def prefetch_slots(self) -> list[str]:
        return []  # Ray queues and places tasks itself: one attempt per slot

    def revoke(self, worker_id: str) -> None:
        return None

    def dispatch(self, worker_id: str, task: TaskRun) -> None:
        slot = self._slots[worker_id]
        slot.info.busy_with = (task.task_id, task.attempt)
        slot.task, slot.cancelled, slot.beat_at = task, False, time.time()
        cpus, resources = task.cpus, dict(task.resources)
        options: dict[str, Any] = {
            "num_cpus": cpus,
            "name": f"br:{task.task_id}#{task.attempt}",
        }
        if resources:
            options["resources"] = resources
        pin = bool(task.files) and not self._local and not self.shared_filesystem
        refusal = self._refusal(task, cpus, resources, pin)
        if refusal is not None:
            self._fail_now(slot, refusal)
            return
        if pin and self._driver_node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                node_id=self._driver_node, soft=False
            )
        direct_log = self._local or self.shared_filesystem
        ref = self._remote.options(**options).remote(
            task.to_dict(), direct_log=direct_log, driver_node=self._driver_node
        )
        slot.ref = ref
        self._by_ref[ref] = worker_id

    def _refusal(
        self, task: TaskRun, cpus: float, resources: dict[str, float], pin: bool
    ) -> str | None:
        """Why this attempt cannot run here (None when it can)."""
        if task.files:
            try:
                check_file_writes([task.task_id], self.address, self.shared_filesystem)
            except RayBackendError as exc:
                return str(exc)
        if not self._local:
            return None  # an autoscaling cluster may still add a node that fits
        needed = {"CPU": cpus, **resources}
        nodes = self._node_resources
        if any(all(node.get(key, 0.0) >= value for key, value in needed.items()) for node in nodes):
            return None
        have = ", ".join(
            f"{key}={value:g}"
            for key, value in sorted((nodes[0] if nodes else {}).items())
            if not key.startswith(("node:", "memory", "object_store"))
        )
        want = ", ".join(f"{key}={value:g}" for key, value in needed.items())
        return f"needs {want} but the local Ray has only {have or 'nothing'}"

    def _fail_now(self, slot: _Slot, error: str) -> None:
        task = slot.task
        assert task is not None
        self._clear(slot)
        outcome = TaskOutcome(
            task.task_id, task.attempt, "failed", error_type="unschedulable", error=error
        )
        self._queued.append(BackendMessage("done", slot.info.worker_id, outcome=outcome))

    def cancel(self, worker_id: str) -> None:
        slot = self._slots.get(worker_id)
        if slot is not None and slot.ref is not None:
            slot.cancelled = True
            with contextlib.suppress(Exception):
                self._ray.cancel(slot.ref, force=True)

    def answer(self, worker_id: str, message: dict[str, Any]) -> None:
        """Ray attempts never ask during a run (they get a fixed allowance): nothing to send."""

    def kill_worker(self, worker_id: str, reason: str) -> BackendMessage | None:
        """Give up on a slot's attempt (force-cancel it) and report it lost."""
        slot = self._slots.get(worker_id)
        if slot is None:
            return None
        task = slot.info.busy_with
        if slot.ref is not None:
            with contextlib.suppress(Exception):
                self._ray.cancel(slot.ref, force=True)
        self._drop(worker_id)
        return BackendMessage("lost", worker_id, reason=reason, task=task)

    def _drop(self, worker_id: str) -> None:
        slot = self._slots.pop(worker_id, None)
        if slot is not None and slot.ref is not None:
            self._by_ref.pop(slot.ref, None)

    def _clear(self, slot: _Slot) -> None:
        if slot.ref is not None:
            self._by_ref.pop(slot.ref, None)
        slot.ref, slot.task, slot.cancelled = None, None, False
        slot.info.busy_with = None

    # -- results ---------------------------------------------------------------------------
    def poll(self, timeout_s: float) -> list[BackendMessage]:
        messages, self._queued = self._queued, []
        refs = list(self._by_ref)
        if refs:
            wait_s = 0.0 if messages else max(timeout_s, 0.0)
            try:
                ready, _ = self._ray.wait(refs, num_returns=1, timeout=wait_s)
                if ready:
                    ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
            except Exception as exc:  # the cluster itself is gone: stop; --resume continues
                raise RayBackendError(f"lost the connection to Ray: {_first_line(exc)}") from exc
            for ref in ready:
                worker_id = self._by_ref.get(ref)
                if worker_id is not None:
                    messages.extend(self._result(self._slots[worker_id]))
        elif not messages:
            time.sleep(min(max(timeout_s, 0.0), 0.05))
        messages.extend(self._heartbeats())
        return messages

    def _heartbeats(self) -> list[BackendMessage]:
        # Ray watches its own workers and nodes; a slot is alive while the cluster answers us
        now = time.time()
        beats = []
        for worker_id, slot in self._slots.items():
            slot.info.last_heartbeat = now
            if now - slot.beat_at >= self.heartbeat_interval_s:
                slot.beat_at = now
                beats.append(BackendMessage("heartbeat", worker_id))
        return beats

    def _result(self, slot: _Slot) -> list[BackendMessage]:
        task, worker_id, cancelled = slot.task, slot.info.worker_id, slot.cancelled
        assert task is not None
        try:
            result = self._ray.get(slot.ref)
        except Exception as exc:
            self._clear(slot)
            return [self._from_error(worker_id, task, exc, cancelled)]
        self._clear(slot)
        messages = [
            BackendMessage("event", worker_id, event=event, task=(task.task_id, task.attempt))
            for event in result.get("events", [])
        ]
        if result.get("log") is not None:
            _write_log(Path(task.log_path), result["log"])
        outcome = TaskOutcome.from_dict(result["outcome"])
        if cancelled and outcome.status != "succeeded":
            outcome.status, outcome.error_type = "cancelled", "cancelled"
        messages.append(BackendMessage("done", worker_id, outcome=outcome))
        return messages

    def _from_error(
        self, worker_id: str, task: TaskRun, exc: Exception, cancelled: bool
    ) -> BackendMessage:
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if cancelled or kinds & set(CANCELLED_ERRORS):
            outcome = TaskOutcome(
                task.task_id, task.attempt, "cancelled", error_type="cancelled", error="cancelled"
            )
            return BackendMessage("done", worker_id, outcome=outcome)
        detail = _first_line(exc)
        for name, error_type in FAILED_ERRORS.items():
            if name in kinds:
                outcome = TaskOutcome(
                    task.task_id,
                    task.attempt,
                    "failed",
                    error_type=error_type,
                    error=f"{name}: {detail}",
                )
                return BackendMessage("done", worker_id, outcome=outcome)
        reason = f"Ray {type(exc).__name__}: {detail}"
        self._drop(worker_id)
        return BackendMessage("lost", worker_id, reason=reason, task=(task.task_id, task.attempt))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _write_log(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(text)
