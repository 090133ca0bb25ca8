"""The Ray backend on a real local Ray with 2 CPUs (one Ray start shared by the module)."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from buildrunner.config import load_settings
from buildrunner.orchestrator import Orchestrator, RunSummary
from buildrunner.parallel.backends.ray import RayBackend, RayBackendError, check_file_writes
from buildrunner.parallel.plan import parse_plan
from buildrunner.parallel.protocol import TaskRun
from buildrunner.parallel.sessions import request_control
from buildrunner.store.db import Store
from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer, running_server

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


@pytest.fixture(scope="module")
def api_server() -> Iterator[MessagesServer]:
    """A fake Messages API on 127.0.0.1 for agent tasks (started before Ray: see local_ray)."""
    yield from running_server()


@pytest.fixture(scope="module", autouse=True)
def local_ray(api_server: MessagesServer) -> Iterator[None]:
    """One local Ray for the module; RayBackend finds it connected and leaves it running.

    Ray workers get the environment Ray was started with, so the agent test's API key is set first.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024 * 1024,
        logging_level="WARNING",
    )
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    yield
    ray.shutdown()
    patch.undo()


def run_plan(
    root: Path,
    text: str,
    *,
    backend: str = "ray",
    workers: int = 2,
    while_running: Callable[[str], None] | None = None,
    environ: dict[str, str] | None = None,
) -> RunSummary:
    """Run a plan through the real orchestrator; `while_running(session_id)` runs in a thread.

    A failure inside `while_running` fails the test (it would otherwise vanish with its thread).
    """
    store = Store(root)
    orchestrator = Orchestrator(store, load_settings(root, environ=environ or {}))
    failures: list[BaseException] = []

    def helper_body(session_id: str) -> None:
        try:
            assert while_running is not None
            while_running(session_id)
        except BaseException as exc:
            failures.append(exc)

    try:
        session_id = orchestrator.create(
            parse_plan(text), workers=workers, backend=backend, workdir=root
        )
        helper = None
        if while_running is not None:
            helper = threading.Thread(target=helper_body, args=(session_id,), daemon=True)
            helper.start()
        summary = orchestrator.run(session_id)
        if helper is not None:
            helper.join(timeout=120)
            assert not helper.is_alive(), "the helper thread never finished"
        if failures:
            raise failures[0]
        return summary
    finally:
        orchestrator.close()


def query(root: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = Store(root).connect()
    try:
        return [tuple(row) for row in conn.execute(sql, args)]
    finally:
        conn.close()


def wait_for_file(path: Path, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never appeared")


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is in the group."""
    import psutil

    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def group_gone(pgid: int, timeout_s: float = 60.0) -> bool:
    """True once no process of the group is left (the reaper kills it asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.1)
    return False


def poll_until_done(backend: RayBackend, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in backend.poll(0.5):
            if message.kind == "done":
                return message.outcome
    raise AssertionError("no result from Ray")


def copy_demo(target: Path) -> Path:
    shutil.copytree(
        DEMO, target, ignore=shutil.ignore_patterns("build", "__pycache__", ".buildrunner")
    )
    return target


def test_demo_plan_gives_the_same_results_and_telemetry_as_local(tmp_path: Path) -> None:
    plan = (DEMO / "plan.yaml").read_text()
    on_ray = run_plan(copy_demo(tmp_path / "ray"), plan, backend="ray")
    on_local = run_plan(copy_demo(tmp_path / "local"), plan, backend="local")

    assert on_ray.status == on_local.status == "completed"
    keep = ("task_id", "kind", "status", "attempts", "exit_code")
    assert [{k: row[k] for k in keep} for row in on_ray.tasks] == [
        {k: row[k] for k in keep} for row in on_local.tasks
    ]
    api = "build/API.txt"
    assert (tmp_path / "ray" / api).read_text() == (tmp_path / "local" / api).read_text()
    assert (tmp_path / "ray" / "build" / "calc.zip.sha256").exists()
    # task output lands in the task's log file, as with the local backend
    tests_log = next(row["log_path"] for row in on_ray.tasks if row["task_id"] == "tests")
    assert "OK" in (tmp_path / "ray" / tests_log).read_text()

    def event_counts(root: Path, session_id: str) -> Counter[str]:
        rows = query(root, "SELECT type FROM events WHERE session_id = ?", session_id)
        return Counter(row[0] for row in rows)

    ray_events = event_counts(tmp_path / "ray", on_ray.session_id)
    assert ray_events == event_counts(tmp_path / "local", on_local.session_id)
    assert ray_events["task_completed"] == 7
    backend = query(
        tmp_path / "ray", "SELECT backend FROM sessions WHERE id = ?", on_ray.session_id
    )
    assert backend == [("ray",)]


KILL_PLAN = """
name: kill
tasks:
  - id: victim
    run: echo "$BR_ATTEMPT $PPID $$" >> runs.txt; if [ "$BR_ATTEMPT" = 1 ]; then sleep 60; fi; echo ok > victim.out
  - id: after
    depends_on: [victim]
    run: touch after.out
"""


def test_a_ray_worker_killed_mid_task_is_retried_once_and_the_build_completes(
    project: Path,
) -> None:
    import psutil

    first: dict[str, int] = {}

    def kill_the_ray_worker(session_id: str) -> None:
        _attempt, worker_pid, pgid = wait_for_file(project / "runs.txt").split()[:3]
        assert int(worker_pid) != os.getpid()
        assert "ray" in " ".join(psutil.Process(int(worker_pid)).cmdline()).lower()
        first["pgid"] = int(pgid)
        os.kill(int(worker_pid), signal.SIGKILL)

    summary = run_plan(project, KILL_PLAN, while_running=kill_the_ray_worker)

    assert summary.status == "completed"
    assert (project / "victim.out").exists() and (project / "after.out").exists()
    runs = [line.split()[0] for line in (project / "runs.txt").read_text().splitlines()]
    assert runs == ["1", "2"]  # exactly one rerun: ours, not Ray's on top of it
    attempts = query(
        project, "SELECT attempt, status FROM attempts WHERE task_id = 'victim' ORDER BY attempt"
    )
    assert attempts == [(1, "lost"), (2, "succeeded")]
    types = [row[0] for row in query(project, "SELECT type FROM events ORDER BY ts, id")]
    assert "worker_offline" in types and "task_retried" in types
    # the killed worker's task (sleep 60) did not outlive it, even when the kill came before the
    # worker could tell its reaper about it (the task wrote runs.txt first)
    assert group_gone(first["pgid"])


FAIL_PLAN = """
name: fail
tasks:
  - id: no-retries
    run: echo "$BR_ATTEMPT" >> once.txt; exit 3
  - id: one-retry
    retries: 1
    run: echo "$BR_ATTEMPT" >> twice.txt; exit 4
  - id: never
    depends_on: [no-retries]
    run: touch never.out
  - id: too-big
    cpus: 8
    run: touch too-big.out
"""


def test_a_failing_task_fails_without_a_retry_storm(project: Path) -> None:
    summary = run_plan(project, FAIL_PLAN)

    assert summary.status == "failed"
    by_id = {row["task_id"]: row for row in summary.tasks}
    assert by_id["no-retries"]["status"] == "failed" and by_id["no-retries"]["exit_code"] == 3
    assert by_id["one-retry"]["attempts"] == 2 and by_id["one-retry"]["exit_code"] == 4
    assert by_id["never"]["status"] == "skipped"
    # more CPUs than the 2-CPU Ray has: a clear failure instead of waiting forever
    assert by_id["too-big"]["status"] == "failed" and "CPU=8" in by_id["too-big"]["error"]
    assert not (project / "too-big.out").exists()
    assert (project / "once.txt").read_text().split() == ["1"]
    assert (project / "twice.txt").read_text().split() == ["1", "2"]
    assert not (project / "never.out").exists()


LONG_PLAN = """
name: long
tasks:
  - id: long
    run: echo $$ > pgid.txt; sleep 60; touch long.out
"""


def test_cancel_request_cancels_the_ray_task_and_kills_its_processes(project: Path) -> None:
    seen: dict[str, int] = {}

    def cancel(session_id: str) -> None:
        seen["pgid"] = int(wait_for_file(project / "pgid.txt"))
        conn = Store(project).connect()
        try:
            request_control(conn, session_id, "cancel")
        finally:
            conn.close()

    summary = run_plan(project, LONG_PLAN, while_running=cancel)

    assert summary.status == "cancelled"
    assert summary.tasks[0]["status"] == "cancelled"
    assert group_gone(seen["pgid"])
    assert not (project / "long.out").exists()


def test_ctrl_c_interrupts_the_build_and_kills_in_flight_ray_tasks(project: Path) -> None:
    seen: dict[str, int] = {}

    def interrupt(session_id: str) -> None:
        seen["pgid"] = int(wait_for_file(project / "pgid.txt"))
        os.kill(os.getpid(), signal.SIGINT)  # the orchestrator's handler is installed by now

    summary = run_plan(project, LONG_PLAN, while_running=interrupt)

    assert summary.status == "interrupted"
    assert group_gone(seen["pgid"])
    status = query(project, "SELECT status FROM tasks WHERE task_id = 'long'")
    assert status == [("queued",)]  # ready to run again with --resume


def test_unschedulable_and_misplaced_attempts_fail_instead_of_hanging(tmp_path: Path) -> None:
    backend = RayBackend(session_id="s")
    [worker] = backend.start(1)
    try:
        task = TaskRun(
            "s",
            "huge",
            1,
            "command",
            str(tmp_path),
            str(tmp_path / "huge.log"),
            run="true",
            cpus=1,
            resources={"GPU": 1},
        )
        backend.dispatch(worker.worker_id, task)
        [done] = [m for m in backend.poll(1.0) if m.kind == "done"]
        assert done.outcome is not None and done.outcome.error_type == "unschedulable"
        assert "GPU=1" in (done.outcome.error or "")

        missing = TaskRun(
            "s",
            "away",
            1,
            "command",
            str(tmp_path / "nope"),
            str(tmp_path / "away.log"),
            run="true",
        )
        backend.dispatch(worker.worker_id, missing)
        outcome = poll_until_done(backend)
        assert outcome.status == "failed"
        assert outcome.error_type == "workdir_missing"
    finally:
        backend.shutdown()
    assert ray.is_initialized()  # a Ray the backend did not start is left running


def test_file_writes_through_ray_client_are_refused_unless_the_filesystem_is_shared() -> None:
    with pytest.raises(RayBackendError, match="ray_shared_filesystem"):
        check_file_writes(["docs"], "ray://head:10001", shared_filesystem=False)
    check_file_writes(["docs"], "ray://head:10001", shared_filesystem=True)
    check_file_writes(["docs"], "10.0.0.1:6379", shared_filesystem=False)  # pinned to our node
    check_file_writes(["docs"], None, shared_filesystem=False)
    check_file_writes([], "ray://head:10001", shared_filesystem=False)


def test_on_a_cluster_tasks_that_write_files_run_on_brs_node(tmp_path: Path) -> None:
    address = ray.get_runtime_context().gcs_address  # as if given with --ray-address
    backend = RayBackend(address=address, session_id="s")
    [worker] = backend.start(1)
    try:
        assert not backend._local  # a cluster: writing tasks get pinned to this node
        task = TaskRun(
            "s",
            "writer",
            1,
            "command",
            str(tmp_path),
            str(tmp_path / "w.log"),
            run="echo written > out.txt; echo to-the-log",
            files=["out.txt"],
        )
        backend.dispatch(worker.worker_id, task)
        outcome = poll_until_done(backend)
    finally:
        backend.shutdown()
    assert outcome.status == "succeeded"
    assert (tmp_path / "out.txt").read_text() == "written\n"
    assert (tmp_path / "w.log").read_text() == "to-the-log\n"


def test_an_attempt_on_a_node_without_the_log_directory_returns_its_output(tmp_path: Path) -> None:
    from buildrunner.parallel.backends.ray_task import run_attempt

    task = TaskRun(
        "s",
        "remote",
        1,
        "command",
        str(tmp_path),
        str(tmp_path / "logs" / "r.log"),
        run="echo from-a-remote-node; exit 2",
    )
    result = run_attempt(task.to_dict(), direct_log=False, driver_node="another-node")
    assert result["outcome"]["status"] == "failed" and result["outcome"]["exit_code"] == 2
    assert result["log"] == "from-a-remote-node\n"
    assert not (tmp_path / "logs").exists()  # the driver writes it from the returned text


AGENT_PLAN = """
name: agent
tasks:
  - id: greet
    prompt: Add app/greet.py with a greet() function
    files: [app/greet.py]
    model: sonnet
"""


def test_agent_tasks_report_the_same_model_calls_and_cost_on_ray(
    tmp_path: Path, api_server: MessagesServer
) -> None:
    settings = {
        "BR_ROUTING_BASE_URL": api_server.base_url,
        "BR_ROUTING_MAX_RETRIES": "0",
        "BR_ROUTING_ESTIMATOR": "heuristic",
    }
    summaries = {}
    for backend in ("ray", "local"):
        root = tmp_path / backend
        (root / "app").mkdir(parents=True)
        api_server.script(
            api.tool_use(
                "write_file", {"path": "app/greet.py", "content": "def greet():\n    pass\n"}
            ),
            api.text("Added app/greet.py.", input_tokens=300, output_tokens=30),
        )
        summaries[backend] = run_plan(root, AGENT_PLAN, backend=backend, environ=settings)
        assert summaries[backend].status == "completed", str(summaries[backend].tasks)
        assert (root / "app" / "greet.py").read_text() == "def greet():\n    pass\n"

    def telemetry(backend: str) -> tuple[Counter[str], list[tuple[Any, ...]]]:
        root, session_id = tmp_path / backend, summaries[backend].session_id
        types = Counter(
            row[0]
            for row in query(root, "SELECT type FROM events WHERE session_id = ?", session_id)
        )
        costs = query(
            root,
            "SELECT model, input_tokens, output_tokens, cost_micro_usd FROM costs"
            " WHERE session_id = ? ORDER BY id",
            session_id,
        )
        return types, costs

    ray_types, ray_costs = telemetry("ray")
    assert ray_types["model_call_completed"] == 2
    assert (ray_types, ray_costs) == telemetry("local")
    assert len(ray_costs) == 2 and all(row[3] > 0 for row in ray_costs)


def test_br_run_backend_ray_on_the_command_line(project: Path) -> None:
    import json

    from typer.testing import CliRunner

    from buildrunner.cli.main import app

    (project / "plan.yaml").write_text(
        "name: cli\ntasks:\n  - id: a\n    run: echo hi > a.out\n"
        "  - id: b\n    depends_on: [a]\n    run: cat a.out\n"
    )
    result = CliRunner().invoke(app, ["run", "plan.yaml", "--backend", "ray", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["tasks"]["succeeded"] == 2
    log = next(row["log_path"] for row in data["results"] if row["task_id"] == "b")
    assert (project / log).read_text() == "hi\n"
