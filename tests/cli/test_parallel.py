"""`br parallel ...` against real builds: real store, real `br run` processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from buildrunner.cli.main import app
from buildrunner.store.db import Store
from tests.conftest import BR, run_br, write_plan
from tests.parallel.waiting import open_gate, owner_went_round, write_gates

T = TypeVar("T")
runner = CliRunner()


def wait_for(predicate: Callable[[], T], timeout: float = 30.0) -> T:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def br_json(*args: str) -> Any:
    """Run a read command in-process and parse its JSON."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def connect(project: Path) -> sqlite3.Connection:
    wait_for(lambda: (project / ".buildrunner" / "buildrunner.db").exists())
    return Store(project).connect()


def statuses(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT task_id, status FROM tasks").fetchall())


@pytest.fixture
def background(project: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `br` in the background; whatever is still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [*BR, *args],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def write_task_script(project: Path) -> None:
    """task.py SECONDS: sleeps, then appends its task id to runs.log (what ran, how often)."""
    (project / "task.py").write_text(
        "import os, sys, time\n"
        "time.sleep(float(sys.argv[1]))\n"
        "with open('runs.log', 'a') as log:\n"
        "    log.write(os.environ['BR_TASK_ID'] + '\\n')\n"
    )


def tasks_plan(project: Path, name: str, commands: list[str], *, files: bool) -> None:
    """A plan of tasks t0.. running `commands`, each writing out/tI.txt when `files`."""
    tasks = "".join(
        f"  - id: t{i}\n"
        + (f"    files: [out/t{i}.txt]\n" if files else "")
        + f"    run: {command}\n"
        for i, command in enumerate(commands)
    )
    write_plan(project, f"name: {name}\ntasks:\n{tasks}")


def sleepy_plan(
    project: Path, count: int, seconds: float, name: str = "sleepy", *, files: bool = True
) -> None:
    """Tasks that append their id to runs.log when they finish (to see what ran, and how often)."""
    write_task_script(project)
    tasks_plan(project, name, [f"python task.py {seconds}"] * count, files=files)


def test_read_commands_on_an_empty_project(project: Path) -> None:
    assert br_json("parallel", "list") == {"sessions": []}
    assert br_json("parallel", "status")["session"] is None
    assert br_json("parallel", "locks") == {"locks": []}
    assert br_json("parallel", "workers") == {"session_id": None, "workers": []}
    assert br_json("parallel", "summary")["sessions"]["total"] == 0
    assert br_json("parallel", "dashboard")["session"] is None
    once = runner.invoke(app, ["parallel", "dashboard", "--once"])
    assert once.exit_code == 0 and "no sessions yet" in once.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "nope"), "no session 'nope'"),
        (("list", "--status", "sleeping"), "--status must be one of"),
        (("workers", "--status", "lazy"), "--status must be one of"),
        (("pause", "nope"), "no session 'nope'"),
        (("dashboard", "nope", "--once"), "no session 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2(project: Path, args: tuple[str, ...], message: str) -> None:
    result = run_br("parallel", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_start_list_status_and_refusals_after_real_builds(project: Path) -> None:
    write_plan(
        project, "name: ok\ntasks:\n  - id: a\n    run: 'true'\n  - id: b\n    run: 'true'\n"
    )
    started = run_br(
        "parallel", "start", "first", "--plan", "plan.yaml", "--json", "--workers", "2"
    )
    assert started.returncode == 0, started.stderr
    first = json.loads(started.stdout)["session_id"]
    write_plan(project, "name: bad\ntasks:\n  - id: a\n    run: python -c 'raise SystemExit(3)'\n")
    assert run_br("run", "plan.yaml").returncode == 1

    listed = br_json("parallel", "list")["sessions"]
    assert [set(item) for item in listed] == [{"id", "name", "status", "created_at", "tasks"}] * 2
    assert (listed[0]["id"], listed[0]["name"], listed[0]["status"]) == (
        first,
        "first",
        "completed",
    )
    assert (listed[1]["name"], listed[1]["status"]) == ("bad", "failed")  # newest last
    assert listed[0]["tasks"]["succeeded"] == 2 and listed[1]["tasks"]["failed"] == 1
    assert [item["name"] for item in br_json("parallel", "list", "--limit", "1")["sessions"]] == [
        "bad"
    ]
    assert [
        item["name"] for item in br_json("parallel", "list", "--status", "completed")["sessions"]
    ] == ["first"]

    status = br_json("parallel", "status")  # the newest session
    assert status["session"]["name"] == "bad" and status["session"]["status"] == "failed"
    assert status["failed"][0]["task_id"] == "a" and status["failed"][0]["exit_code"] == 3
    assert status["failed"][0]["log_path"].endswith("a.1.log")
    assert status["session"]["resume_hint"].startswith("br parallel resume ")
    assert br_json("parallel", "status", first[:-1])["session"]["tasks"]["succeeded"] == 2
    workers = br_json("parallel", "workers", first)
    assert len(workers["workers"]) == 2 and {w["status"] for w in workers["workers"]} == {"stopped"}
    assert sum(w["tasks_completed"] for w in workers["workers"]) == 2

    human = run_br("parallel", "status", first)
    assert human.returncode == 0 and "first" in human.stderr and human.stdout == ""
    for action, message in (
        ("pause", "already completed"),
        ("resume", "already completed"),
        ("cancel", "already completed"),
    ):
        refused = run_br("parallel", action, first, "--yes" if action == "cancel" else "--json")
        assert refused.returncode == 2, refused.stderr
        assert message in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def gated_plan(project: Path, count: int, *, files: bool) -> None:
    """Tasks t0.. that each wait for their gate (gates/tI) and then append their id to runs.log."""
    write_gates(project)
    tasks_plan(project, "gated", [f"python gate.py t{i}" for i in range(count)], files=files)


@pytest.mark.parametrize("files", [True, False], ids=["locking", "queued-ahead"])
def test_pause_stops_new_tasks_and_resume_finishes_the_build(
    project: Path,
    background: Callable[..., subprocess.Popen[str]],
    files: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # without files, the next task waits in the worker's own queue: pause must take it back
    monkeypatch.setenv("BR_PARALLEL_HEARTBEAT_INTERVAL_S", "0.2")  # owner rounds come often
    gated_plan(project, 4, files=files)
    build = background("run", "plan.yaml", "--workers", "1", "--json")
    conn = connect(project)
    wait_for(lambda: statuses(conn).get("t0") == "running")
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]

    # while it runs (t0 cannot end before its gate opens), another terminal sees the running
    # task, its worker and its lock
    live = br_json("parallel", "status")
    assert live["session"]["status"] == "running"
    assert [item["task_id"] for item in live["running"]] == ["t0"]
    assert live["running"][0]["worker_id"] in {w["id"] for w in live["workers"]}
    assert [lock["path"] for lock in br_json("parallel", "locks")["locks"]] == (
        ["out/t0.txt"] if files else []
    )
    frame = runner.invoke(app, ["parallel", "dashboard", "--once"])
    assert frame.exit_code == 0 and "gated" in frame.stderr

    paused = run_br("parallel", "pause", session_id[:12], "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["status"] == "paused"
    again = run_br("parallel", "pause", session_id)
    assert again.returncode == 2 and "already paused" in again.stderr

    # the running task finishes; then the owner goes round again, paused: nothing new starts
    open_gate(project, "t0")
    wait_for(lambda: statuses(conn)["t0"] == "succeeded")
    worker_id, finished_at = conn.execute(
        "SELECT worker_id, last_heartbeat FROM tasks JOIN workers ON workers.id = worker_id"
        " WHERE task_id = 't0'"
    ).fetchone()
    wait_for(
        lambda: owner_went_round(
            project / ".buildrunner" / "buildrunner.db", worker_id, finished_at
        )
    )
    assert [tuple(row) for row in conn.execute("SELECT task_id, attempt FROM attempts")] == [
        ("t0", 1)
    ]
    assert "running" not in statuses(conn).values() and build.poll() is None
    assert (project / "runs.log").read_text().split() == ["t0"]

    open_gate(project, "t1", "t2", "t3")
    resumed = run_br("parallel", "resume", session_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] in ("running", "completed")
    stdout, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr
    assert json.loads(stdout)["tasks"]["succeeded"] == 4
    assert sorted((project / "runs.log").read_text().split()) == ["t0", "t1", "t2", "t3"]
    events = [row[0] for row in conn.execute("SELECT type FROM events ORDER BY id")]
    assert "session_paused" in events and "session_resumed" in events


@pytest.mark.parametrize("files", [True, False], ids=["locking", "queued-ahead"])
def test_cancel_stops_a_running_build_and_frees_its_locks(
    project: Path, background: Callable[..., subprocess.Popen[str]], files: bool
) -> None:
    sleepy_plan(project, 3, 30, files=files)
    build = background("run", "plan.yaml", "--workers", "2", "--json")
    conn = connect(project)
    wait_for(lambda: list(statuses(conn).values()).count("running") == 2)
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == (2 if files else 0)

    # no --yes: stdin is not a terminal, so there is no question to answer
    cancelled = subprocess.run(
        [*BR, "parallel", "cancel", session_id, "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    stdout, stderr = build.communicate(timeout=60)
    assert build.returncode == 1, stderr
    assert json.loads(stdout)["status"] == "cancelled"
    assert set(statuses(conn).values()) == {"cancelled"}
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    assert not (project / "runs.log").exists()  # no task ran to its end
    # the third task never started (without files it waited in a worker's queue)
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 2
    assert br_json("parallel", "list", "--status", "cancelled")["sessions"][0]["id"] == session_id


def test_killed_owner_shows_interrupted_and_parallel_resume_continues(
    project: Path, background: Callable[..., subprocess.Popen[str]]
) -> None:
    write_task_script(project)
    write_plan(
        project,
        "name: crash\ntasks:\n  - id: quick\n    run: python task.py 0\n"
        "  - id: slow\n    depends_on: [quick]\n    files: [out/]\n"
        "    run: python task.py 30\n",
    )
    build = background("run", "plan.yaml", "--workers", "1")
    conn = connect(project)
    wait_for(lambda: statuses(conn).get("slow") == "running")
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    os.kill(build.pid, signal.SIGKILL)
    build.wait(timeout=10)

    status = br_json("parallel", "status", session_id)
    assert status["session"]["status"] == "interrupted"
    assert status["session"]["resume_hint"] == f"br parallel resume {session_id}"
    refused = run_br("parallel", "pause", session_id)
    assert refused.returncode == 2 and "interrupted" in refused.stderr
    locks = br_json("parallel", "locks")["locks"]
    assert [(lock["path"], lock["owner_alive"]) for lock in locks] == [("out/", False)]

    (project / "task.py").write_text(  # the resumed attempt need not wait 30 s
        "import os\nwith open('runs.log', 'a') as log:\n    log.write(os.environ['BR_TASK_ID'] + '\\n')\n"
    )
    resumed = run_br("parallel", "resume", session_id[:12], "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"]["succeeded"] == 2
    assert (project / "runs.log").read_text().split() == ["quick", "slow"]  # quick ran once
    assert br_json("parallel", "status", session_id)["session"]["status"] == "completed"


def test_cancel_of_an_interrupted_session_marks_it_cancelled(project: Path) -> None:
    write_plan(project, "name: orphan\ntasks:\n  - id: a\n    run: 'true'\n")
    assert run_br("run", "plan.yaml").returncode == 0
    conn = Store(project).connect()
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    dead = subprocess.Popen(["true"])
    dead.wait()
    conn.execute("UPDATE sessions SET status = 'running', owner_pid = ?", (dead.pid,))
    conn.execute("UPDATE tasks SET status = 'queued'")
    result = run_br("parallel", "cancel", session_id, "--yes", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "cancelled"
    assert statuses(conn) == {"a": "cancelled"}
    resume = run_br("parallel", "resume", session_id)
    assert resume.returncode == 2 and "cancelled" in resume.stderr


def test_cleanup_removes_finished_sessions_and_their_logs(project: Path) -> None:
    write_plan(project, "name: old\ntasks:\n  - id: a\n    run: echo hello\n")
    assert run_br("run", "plan.yaml").returncode == 0
    conn = Store(project).connect()
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    logs = project / ".buildrunner" / "logs" / session_id
    assert logs.is_dir()

    kept = br_json("parallel", "cleanup")  # default: older than 7 days
    assert kept["deleted"] == 0
    dry = br_json("parallel", "cleanup", "--older-than", "0", "--dry-run")
    assert [item["id"] for item in dry["sessions"]] == [session_id] and dry["dry_run"] is True
    assert logs.is_dir()
    done = br_json("parallel", "cleanup", "--older-than", "0")
    assert done["deleted"] == 1 and done["logs_removed"] == 1
    assert not logs.exists()
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
    assert br_json("parallel", "list") == {"sessions": []}


def test_start_with_watch_shows_the_dashboard_and_the_summary(project: Path) -> None:
    write_plan(
        project,
        "name: watched\ntasks:\n  - id: alpha\n    run: 'true'\n"
        "  - id: beta\n    depends_on: [alpha]\n    run: 'true'\n",
    )
    result = run_br("parallel", "start", "watched", "--plan", "plan.yaml", "--watch")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # human output goes to stderr
    frame, _, summary = result.stderr.rpartition("completed watched")
    assert "alpha" in frame and "beta" in frame and "2/2 (100%)" in frame
    assert "2 succeeded" in summary


def test_live_dashboard_stops_after_its_duration(project: Path) -> None:
    write_plan(project, "name: shown\ntasks:\n  - id: a\n    run: 'true'\n")
    assert run_br("run", "plan.yaml").returncode == 0
    result = run_br("parallel", "dashboard", "--duration", "0.3", "--refresh", "0.1")
    assert result.returncode == 0, result.stderr
    assert "shown" in result.stderr and "Traceback" not in result.stderr


def test_lock_paths_of_a_task_with_a_cwd_are_the_files_it_writes(
    project: Path, background: Callable[..., subprocess.Popen[str]]
) -> None:
    # `files` are relative to the task's cwd; the locks name them from the project root, so a
    # task elsewhere that declares the same file waits for it
    write_gates(project)
    (project / "sub").mkdir()
    write_plan(
        project,
        "name: cwd\ntasks:\n"
        "  - id: inner\n    cwd: sub\n    env: {GATES: ../gates}\n"
        "    files: [out.txt, gen/, 'logs/*.log']\n    run: python ../gate.py inner\n"
        "  - id: outer\n    files: [sub/out.txt]\n    run: python gate.py outer\n",
    )
    build = background("run", "plan.yaml", "--workers", "2", "--json")
    conn = connect(project)
    wait_for(lambda: statuses(conn) == {"inner": "running", "outer": "waiting"})

    locks = br_json("parallel", "locks")["locks"]
    assert [(lock["path"], lock["task_id"]) for lock in locks] == [
        ("sub/gen/", "inner"),
        ("sub/logs/", "inner"),
        ("sub/out.txt", "inner"),
    ]
    waiting = br_json("parallel", "status")["waiting"]
    assert waiting == [
        {"task_id": "outer", "waiting_on": "sub/out.txt held by task 'inner' of this session"}
    ]

    open_gate(project, "inner", "outer")
    stdout, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr
    assert json.loads(stdout)["tasks"]["succeeded"] == 2
    assert (project / "runs.log").read_text().split() == ["inner", "outer"]
    assert br_json("parallel", "locks")["locks"] == []
