"""Crash recovery with real processes: killed workers, a killed orchestrator, competing sessions."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from buildrunner.store.db import Store
from tests.conftest import BR, run_br, write_plan
from tests.parallel.waiting import dispatch_round_done


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def task_pid_file_ready(project: Path) -> int | None:
    path = project / "worker-pid"
    if path.exists() and path.read_text().strip():
        return int(path.read_text())
    return None


def test_killed_worker_task_is_requeued_and_build_succeeds(project: Path) -> None:
    # attempt 1 records its worker's pid and hangs; attempt 2 finishes at once
    script = (
        "import os, time, pathlib\n"
        "if os.environ['BR_ATTEMPT'] == '1':\n"
        "    pathlib.Path('worker-pid').write_text(str(os.getppid()))\n"
        "    time.sleep(60)\n"
        "pathlib.Path('done').write_text(os.environ['BR_ATTEMPT'])\n"
    )
    (project / "task.py").write_text(script)
    write_plan(
        project, "name: k\ntasks:\n  - id: victim\n    files: [out.txt]\n    run: python task.py\n"
    )
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--json", "--workers", "1"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker_pid = wait_for(lambda: task_pid_file_ready(project))
    os.kill(worker_pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["tasks"]["succeeded"] == 1
    assert (project / "done").read_text() == "2"
    conn = Store(project).connect()
    attempts = conn.execute("SELECT attempt, status FROM attempts ORDER BY attempt").fetchall()
    assert [tuple(row) for row in attempts] == [(1, "lost"), (2, "succeeded")]
    types = [row[0] for row in conn.execute("SELECT type FROM events")]
    assert "worker_offline" in types and "task_retried" in types
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0


def test_silent_worker_is_declared_offline_after_heartbeat_timeout(project: Path) -> None:
    script = (
        "import os, signal, time, pathlib\n"
        "if os.environ['BR_ATTEMPT'] == '1':\n"
        "    pathlib.Path('worker-pid').write_text(str(os.getppid()))\n"
        "    os.kill(os.getppid(), signal.SIGSTOP)  # the worker hangs: no more heartbeats\n"
        "    time.sleep(60)\n"
    )
    (project / "task.py").write_text(script)
    write_plan(project, "name: k\ntasks:\n  - id: frozen\n    run: python task.py\n")
    result = run_br(
        "run",
        "plan.yaml",
        "--json",
        "--workers",
        "1",
        env={"BR_PARALLEL_HEARTBEAT_INTERVAL_S": "0.2", "BR_PARALLEL_HEARTBEAT_TIMEOUT_S": "1.5"},
    )
    assert result.returncode == 0, result.stderr
    conn = Store(project).connect()
    offline = conn.execute("SELECT payload FROM events WHERE type = 'worker_offline'").fetchone()
    assert offline is not None and "heartbeat" in offline[0]
    stopped = int((project / "worker-pid").read_text())
    assert wait_for(lambda: not Path(f"/proc/{stopped}").exists() or _zombie(stopped), 10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_killed_worker_gives_back_the_task_queued_behind_its_own(project: Path) -> None:
    # without files, 'after' waits in the worker's own queue while 'victim' runs; the kill
    # loses victim's attempt, but 'after' never started: it runs later as attempt 1
    script = (
        "import os, time, pathlib\n"
        "if os.environ['BR_ATTEMPT'] == '1':\n"
        "    pathlib.Path('worker-pid').write_text(str(os.getppid()))\n"
        "    time.sleep(60)\n"
    )
    (project / "task.py").write_text(script)
    write_plan(
        project,
        "name: k\ntasks:\n  - id: victim\n    priority: 1\n    run: python task.py\n"
        "  - id: after\n    run: python -c \"open('after.txt', 'w').write('ran')\"\n",
    )
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--json", "--workers", "1"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker_pid = wait_for(lambda: task_pid_file_ready(project))
    # 'after' goes into the worker's queue in the round that started 'victim'
    db = project / ".buildrunner" / "buildrunner.db"
    wait_for(lambda: dispatch_round_done(db, "victim"))
    os.kill(worker_pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["tasks"]["succeeded"] == 2
    conn = Store(project).connect()
    attempts = conn.execute(
        "SELECT task_id, attempt, status FROM attempts ORDER BY task_id, attempt"
    ).fetchall()
    assert [tuple(row) for row in attempts] == [
        ("after", 1, "succeeded"),
        ("victim", 1, "lost"),
        ("victim", 2, "succeeded"),
    ]


def test_killed_orchestrator_resumes_without_rerunning_completed_tasks(project: Path) -> None:
    tasks = "".join(
        f'  - id: t{i:03d}\n    run: python -c "import time,os; time.sleep(0.05); '
        f"open('runs.log','a').write('t{i:03d}\\\\n')\"\n"
        for i in range(100)
    )
    write_plan(project, "name: hundred\ntasks:\n" + tasks)
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--workers", "4"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = project / ".buildrunner" / "buildrunner.db"

    def some_done() -> bool:
        if not db.exists():
            return False
        conn = Store(project).connect()
        done = conn.execute("SELECT COUNT(*) FROM tasks WHERE status = 'succeeded'").fetchone()[0]
        conn.close()
        return done >= 20

    wait_for(some_done, timeout=60)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    conn = Store(project).connect()
    completed_before = {
        row[0] for row in conn.execute("SELECT task_id FROM tasks WHERE status = 'succeeded'")
    }
    runs_before = (project / "runs.log").read_text().split()
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    listed = run_br("parallel", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    statuses = {s["id"]: s["status"] for s in json.loads(listed.stdout)["sessions"]}
    assert statuses[session_id] == "interrupted"
    resumed = run_br("run", "--resume", session_id, "--json", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"]["succeeded"] == 100
    runs = (project / "runs.log").read_text().split()
    assert set(runs) == {f"t{i:03d}" for i in range(100)}
    for task_id in completed_before:
        assert runs.count(task_id) == 1, f"{task_id} ran again after resume"
        assert runs_before.count(task_id) == 1, f"{task_id} completed but never ran"
    # what ran before the kill beyond the completed tasks: only attempts in flight, whose end
    # the killed owner never recorded (per worker: its running one and the one queued behind it)
    in_flight = set(runs_before) - completed_before
    assert len(in_flight) <= 2 * 4, in_flight
    assert len(runs) == 100 + sum(runs_before.count(task_id) for task_id in in_flight)
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0


def test_two_sessions_never_hold_the_same_file_at_once(project: Path) -> None:
    (project / "span.py").write_text(
        "import os, time\n"
        "start = time.time()\n"
        "time.sleep(0.15)\n"
        "with open('spans.log', 'a') as log:\n"
        "    log.write(f\"{os.environ['FILE']} {start} {time.time()}\\n\")\n"
    )

    def plan(name: str) -> str:
        body = f"name: {name}\ntasks:\n"
        for i in range(4):
            shared = f"shared/f{i % 2}.txt"
            body += (
                f"  - id: {name}-{i}\n    files: [{shared}]\n    env: {{FILE: {shared}}}\n"
                "    run: python span.py\n"
            )
        return body

    write_plan(project, plan("one"), "one.yaml")
    write_plan(project, plan("two"), "two.yaml")
    first = subprocess.Popen(
        [*BR, "run", "one.yaml", "--workers", "4"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second = subprocess.Popen(
        [*BR, "run", "two.yaml", "--workers", "4"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    spans: dict[str, list[tuple[float, float]]] = {}
    for line in (project / "spans.log").read_text().splitlines():
        path, start, end = line.split()
        spans.setdefault(path, []).append((float(start), float(end)))
    assert sum(len(v) for v in spans.values()) == 8
    for intervals in spans.values():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert end <= start, "two tasks held the same file at once"
