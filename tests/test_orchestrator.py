"""The orchestrator end to end with real worker processes and a real store."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from buildrunner.config import load_settings
from buildrunner.orchestrator import Orchestrator, RunSummary
from buildrunner.parallel.plan import parse_plan
from buildrunner.store.db import Store


def run_plan(root: Path, text: str, workers: int = 2, **settings_env: str) -> RunSummary:
    store = Store(root)
    settings = load_settings(root, environ=settings_env)
    orchestrator = Orchestrator(store, settings)
    try:
        session_id = orchestrator.create(parse_plan(text), workers=workers, workdir=root)
        return orchestrator.run(session_id)
    finally:
        orchestrator.close()


def intervals(root: Path) -> dict[str, tuple[float, float]]:
    """Start/end times that tasks wrote themselves (see STAMP)."""
    result = {}
    for path in root.glob("stamp-*"):
        start, end = path.read_text().split()
        result[path.name.removeprefix("stamp-")] = (float(start), float(end))
    return result


def stamp(name: str, seconds: float) -> str:
    """A command that records when it ran: stamp-NAME holds 'start end'."""
    return (
        f'python -c "import time; s=time.time(); time.sleep({seconds}); '
        f"open('stamp-{name}','w').write(f'{{s}} {{time.time()}}')\""
    )


def events(root: Path, session_id: str) -> list[str]:
    conn = Store(root).connect()
    return [
        row[0]
        for row in conn.execute(
            "SELECT type FROM events WHERE session_id = ? ORDER BY ts, id", (session_id,)
        )
    ]


def test_two_sleeping_tasks_with_two_workers_overlap(project: Path) -> None:
    summary = run_plan(
        project,
        f"name: p\ntasks:\n  - id: a\n    run: {json.dumps(stamp('a', 1.0))}\n"
        f"  - id: b\n    run: {json.dumps(stamp('b', 1.0))}\n",
        workers=2,
    )
    assert summary.status == "completed"
    times = intervals(project)
    (a_start, a_end), (b_start, b_end) = times["a"], times["b"]
    # they ran at the same time: each started before the other ended
    assert a_start < b_end and b_start < a_end


def test_one_worker_runs_tasks_one_at_a_time(project: Path) -> None:
    summary = run_plan(
        project,
        f"name: p\ntasks:\n  - id: a\n    run: {json.dumps(stamp('a', 0.2))}\n"
        f"  - id: b\n    run: {json.dumps(stamp('b', 0.2))}\n",
        workers=1,
    )
    assert summary.status == "completed"
    times = intervals(project)
    first, second = sorted(times.values())
    assert first[1] <= second[0]


def test_dependencies_run_in_order(project: Path) -> None:
    plan = (
        "name: p\ntasks:\n"
        f"  - id: c\n    run: {json.dumps(stamp('c', 0.05))}\n    depends_on: [b]\n"
        f"  - id: b\n    run: {json.dumps(stamp('b', 0.05))}\n    depends_on: [a]\n"
        f"  - id: a\n    run: {json.dumps(stamp('a', 0.05))}\n"
    )
    summary = run_plan(project, plan, workers=3)
    assert summary.status == "completed"
    times = intervals(project)
    assert times["a"][1] <= times["b"][0]
    assert times["b"][1] <= times["c"][0]


def test_failure_skips_dependents_but_not_independent_tasks(project: Path) -> None:
    plan = (
        "name: p\ntasks:\n"
        "  - id: bad\n    run: python -c 'import sys; print(\"boom\"); sys.exit(3)'\n"
        "  - id: after-bad\n    run: touch after-bad\n    depends_on: [bad]\n"
        "  - id: later\n    run: touch later\n    depends_on: [after-bad]\n"
        "  - id: independent\n    run: touch independent\n"
    )
    summary = run_plan(project, plan)
    assert summary.status == "failed"
    assert summary.counts["succeeded"] == 1
    assert summary.counts["failed"] == 1
    assert summary.counts["skipped"] == 2
    by_id = {row["task_id"]: row for row in summary.tasks}
    assert by_id["bad"]["exit_code"] == 3
    assert by_id["later"]["status"] == "skipped"
    assert (project / "independent").exists()
    assert not (project / "after-bad").exists()
    log = project / by_id["bad"]["log_path"]
    assert "boom" in log.read_text()
    types = events(project, summary.session_id)
    assert types[0] == "session_started"
    assert {"task_started", "task_completed", "task_failed", "task_skipped"} <= set(types)
    assert types[-1] == "session_failed"


def test_retries_run_a_failing_task_again(project: Path) -> None:
    flaky = (
        "python -c \"import os,sys; n=int(open('n').read()) if os.path.exists('n') else 0; "
        "open('n','w').write(str(n+1)); sys.exit(0 if n >= 1 else 1)\""
    )
    summary = run_plan(
        project, f"name: p\ntasks:\n  - id: flaky\n    retries: 2\n    run: {json.dumps(flaky)}\n"
    )
    assert summary.status == "completed"
    assert summary.tasks[0]["attempts"] == 2
    assert "task_retried" in events(project, summary.session_id)
    conn = Store(project).connect()
    statuses = [row[0] for row in conn.execute("SELECT status FROM attempts ORDER BY attempt")]
    assert statuses == ["failed", "succeeded"]


def test_a_task_queued_behind_a_long_one_moves_to_the_free_worker(project: Path) -> None:
    # the long task starts first; short ones are queued ahead on both workers, and the one
    # queued behind the long task is given back when the other worker runs out of work
    plan = (
        "name: p\ntasks:\n"
        f"  - id: long\n    priority: 10\n    run: {json.dumps(stamp('long', 3))}\n"
        + "".join(f"  - id: q{i}\n    run: {json.dumps(stamp(f'q{i}', 0.05))}\n" for i in range(6))
    )
    summary = run_plan(project, plan, workers=2)
    assert summary.status == "completed"
    times = intervals(project)
    assert all(times[f"q{i}"][1] < times["long"][1] for i in range(6))
    conn = Store(project).connect()
    rows = conn.execute("SELECT task_id, attempt, worker_id, status FROM attempts").fetchall()
    assert len(rows) == 7 and {row[3] for row in rows} == {"succeeded"}
    assert {row[1] for row in rows} == {1}  # a revoked attempt is not counted
    long_worker = next(row[2] for row in rows if row[0] == "long")
    assert all(row[2] != long_worker for row in rows if row[0] != "long")
    assert all(task["attempts"] == 1 for task in summary.tasks)


def test_queue_ahead_can_be_turned_off(project: Path) -> None:
    plan = "name: p\ntasks:\n" + "".join(
        f"  - id: t{i}\n    run: {json.dumps(stamp(f't{i}', 0.05))}\n" for i in range(4)
    )
    summary = run_plan(project, plan, workers=1, BR_PARALLEL_QUEUE_AHEAD="false")
    assert summary.status == "completed" and len(intervals(project)) == 4


def test_tasks_sharing_a_file_never_overlap(project: Path) -> None:
    plan = "name: p\ntasks:\n" + "".join(
        f"  - id: t{i}\n    files: [shared/out.txt]\n    run: {json.dumps(stamp(f't{i}', 0.15))}\n"
        for i in range(3)
    )
    summary = run_plan(project, plan, workers=3)
    assert summary.status == "completed"
    spans = sorted(intervals(project).values())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    assert Store(project).connect().execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0


def test_directory_lock_covers_files_inside(project: Path) -> None:
    plan = (
        "name: p\ntasks:\n"
        f"  - id: dir\n    files: [src/]\n    run: {json.dumps(stamp('dir', 0.2))}\n"
        f"  - id: file\n    files: [src/a.py]\n    run: {json.dumps(stamp('file', 0.2))}\n"
    )
    run_plan(project, plan, workers=2)
    (_a_start, a_end), (b_start, _b_end) = sorted(intervals(project).values())
    assert a_end <= b_start


def test_agent_tasks_are_not_faked(project: Path) -> None:
    summary = run_plan(
        project, "name: p\ntasks:\n  - id: ai\n    prompt: write a poem\n", BR_ROUTING_API_KEY=""
    )
    assert summary.status == "failed"
    assert summary.tasks[0]["status"] == "failed"
    assert "API key" in summary.tasks[0]["error"]  # failed for the stated reason, not a crash


def test_task_timeout_kills_the_task(project: Path) -> None:
    summary = run_plan(
        project, "name: p\ntasks:\n  - id: slow\n    timeout_s: 0.3\n    run: sleep 30\n"
    )
    assert summary.status == "failed"
    assert "timed out" in (summary.tasks[0]["error"] or "")


def github_token(body: str = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5") -> str:
    """A GitHub token with a valid CRC32 checksum (as real ones have)."""
    import zlib

    from buildrunner.security.validators import _base62

    return "ghp_" + body + _base62(zlib.crc32(body.encode()), 6)


def test_secrets_in_task_output_are_masked_in_logs(project: Path) -> None:
    secret = github_token()
    summary = run_plan(project, f"name: p\ntasks:\n  - id: leak\n    run: echo token={secret}\n")
    log = (project / summary.tasks[0]["log_path"]).read_text()
    assert "token=" in log
    assert secret not in log
    assert secret[:4] in log  # masked as first 4 … last 4


def test_long_logs_keep_their_end(project: Path) -> None:
    (project / ".buildrunner").mkdir(exist_ok=True)
    command = "python -c \"print('x' * 5000); print('the end')\""
    summary = run_plan(
        project,
        f"name: p\ntasks:\n  - id: noisy\n    run: {json.dumps(command)}\n",
        BR_RUN_LOG_MAX_BYTES="1024",
    )
    log = (project / summary.tasks[0]["log_path"]).read_text()
    assert log.startswith("[BuildRunner: the first ")
    assert log.rstrip().endswith("the end")
    assert len(log) < 1200


def test_an_orchestrator_error_leaves_the_session_failed_not_running(project: Path) -> None:
    import pytest

    def broken_backend(name: str, settings: object, session_id: str) -> object:
        raise RuntimeError("no backend today")

    store = Store(project)
    orchestrator = Orchestrator(
        store, load_settings(project, environ={}), backend_factory=broken_backend
    )  # type: ignore[arg-type]
    session_id = orchestrator.create(parse_plan("name: p\ntasks:\n  - id: a\n    run: 'true'\n"))
    with pytest.raises(RuntimeError, match="no backend today"):
        orchestrator.run(session_id)
    orchestrator.close()
    row = store.connect().execute("SELECT status, ended_at, error FROM sessions").fetchone()
    assert row["status"] == "failed" and row["ended_at"] is not None
    assert "no backend today" in row["error"]
    assert "session_failed" in events(project, session_id)


def test_resume_refuses_a_session_another_process_owns(project: Path) -> None:
    import os

    import pytest

    from buildrunner.errors import SessionError

    store = Store(project)
    orchestrator = Orchestrator(store, load_settings(project, environ={}))
    session_id = orchestrator.create(parse_plan("name: p\ntasks:\n  - id: a\n    run: 'true'\n"))
    conn = store.connect()
    conn.execute("UPDATE sessions SET status = 'interrupted' WHERE id = ?", (session_id,))
    assert orchestrator.prepare_resume(session_id) == session_id  # dead or failed: taken over
    # now this process owns it and it is running: a second resumer is refused
    assert conn.execute("SELECT owner_pid FROM sessions").fetchone()[0] == os.getpid()
    with pytest.raises(SessionError, match="still running"):
        orchestrator.prepare_resume(session_id)
    orchestrator.close()


# one seed in make test, two more in make slow (each build is 30 tasks on real workers)
@pytest.mark.parametrize(
    "seed", [1, pytest.param(2, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow)]
)
def test_random_builds_keep_every_invariant(project: Path, seed: int) -> None:
    """Random DAGs of short tasks (some locked, some queued ahead, some flaky or failing)."""
    rng = random.Random(seed)
    (project / "task.py").write_text(
        "import os, sys, time, fcntl\n"
        "task, attempt, fail_until = os.environ['BR_TASK_ID'], os.environ['BR_ATTEMPT'], int(sys.argv[1])\n"
        "time.sleep(float(sys.argv[2]))\n"
        "with open('runs.log', 'a') as log:\n"
        "    fcntl.flock(log, fcntl.LOCK_EX)\n"
        "    log.write(f'{task} {attempt}\\n')\n"
        "sys.exit(1 if int(attempt) <= fail_until else 0)\n"
    )
    lines, expected_attempts = [], {}
    for i in range(30):
        deps = sorted({f"t{j}" for j in rng.sample(range(i), min(i, rng.choice([0, 0, 1, 2])))})
        retries = rng.choice([0, 0, 1, 2])
        fail_until = rng.choice([0, 0, 0, 1, 3])  # attempts that fail before one succeeds
        files = f"    files: [out/f{rng.randrange(4)}.txt]\n" if rng.random() < 0.3 else ""
        lines.append(
            f"  - id: t{i}\n    priority: {rng.randrange(3)}\n    retries: {retries}\n{files}"
            + (f"    depends_on: [{', '.join(deps)}]\n" if deps else "")
            + f"    run: python task.py {fail_until} {rng.choice([0, 0.01, 0.05])}\n"
        )
        expected_attempts[f"t{i}"] = (deps, retries, fail_until)
    summary = run_plan(project, "name: r\ntasks:\n" + "".join(lines), workers=3)

    final = {task["task_id"]: task for task in summary.tasks}
    runs: dict[str, list[int]] = {}
    for line in (project / "runs.log").read_text().split("\n"):
        if line:
            task_id, attempt = line.split()
            runs.setdefault(task_id, []).append(int(attempt))
    for task_id, (deps, retries, fail_until) in expected_attempts.items():
        task = final[task_id]
        if any(final[dep]["status"] != "succeeded" for dep in deps):
            assert task["status"] == "skipped" and task_id not in runs, task_id
            continue
        # every attempt ran exactly once, numbered 1..n, and the outcome follows from the script
        attempts = min(fail_until + 1, retries + 1)
        assert runs[task_id] == list(range(1, attempts + 1)), (task_id, runs[task_id])
        assert task["attempts"] == attempts
        assert task["status"] == ("succeeded" if fail_until <= retries else "failed"), task_id
    conn = Store(project).connect()
    rows = conn.execute("SELECT task_id, attempt, status FROM attempts").fetchall()
    assert sorted((row[0], row[1]) for row in rows) == sorted(
        (task_id, attempt) for task_id, numbers in runs.items() for attempt in numbers
    )
    assert {row[2] for row in rows} <= {"succeeded", "failed"}
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    assert summary.status == (
        "completed" if all(task["status"] == "succeeded" for task in final.values()) else "failed"
    )
