"""`br run`, `br plan`, `br init` and the top-level CLI through a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildrunner.store.db import Store
from tests.conftest import BR, run_br, write_plan
from tests.parallel.waiting import dispatch_round_done, process_gone, wait_for

GROUPS = ("run", "init", "security", "routing", "telemetry", "parallel", "quality", "gaps")


def test_version_and_help_list_the_groups() -> None:
    version = run_br("--version")
    assert version.returncode == 0 and version.stdout.startswith("br ")
    help_text = run_br("--help").stdout
    for group in GROUPS:
        assert group in help_text


def test_run_json_summary_and_exit_codes(project: Path) -> None:
    write_plan(
        project, "name: ok\ntasks:\n  - id: a\n    run: 'true'\n  - id: b\n    run: 'true'\n"
    )
    result = run_br("run", "plan.yaml", "--json", "--workers", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed"
    assert data["tasks"]["succeeded"] == 2 and data["tasks"]["failed"] == 0
    assert data["session_id"] and data["duration_s"] >= 0

    write_plan(
        project,
        "name: bad\ntasks:\n  - id: a\n    run: 'false'\n  - id: b\n    run: 'true'\n    depends_on: [a]\n",
    )
    result = run_br("run", "plan.yaml", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert (data["tasks"]["failed"], data["tasks"]["skipped"]) == (1, 1)


@pytest.mark.parametrize(
    ("plan_text", "message"),
    [
        (None, "plan file not found"),
        ("name: x\ntasks: [\n", "YAML syntax error"),
        ("name: x\ntasks:\n  - id: a\n    run: echo\n    retries: many\n", "'retries'"),
        (
            "name: x\ntasks:\n  - id: a\n    run: no-such-program-xyz --flag\n",
            "command 'no-such-program-xyz' not found",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(project: Path, plan_text: str | None, message: str) -> None:
    if plan_text is not None:
        write_plan(project, plan_text)
    result = run_br("run", "plan.yaml")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unwritable_store_is_one_line_exit_2(project: Path) -> None:
    write_plan(project, "name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    (project / ".buildrunner").write_text("not a directory")
    result = run_br("run", "plan.yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert ".buildrunner" in result.stderr


def test_bad_options_exit_2(project: Path) -> None:
    write_plan(project, "name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    assert run_br("run", "plan.yaml", "--workers", "0").returncode == 2
    assert run_br("run", "plan.yaml", "--backend", "mars").returncode == 2
    assert run_br("run").returncode == 2


def test_dry_run_runs_nothing(project: Path) -> None:
    write_plan(project, "name: x\ntasks:\n  - id: a\n    run: touch made\n")
    result = run_br("run", "plan.yaml", "--dry-run", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["tasks"][0]["id"] == "a"
    assert not (project / "made").exists()


def test_plan_validate_and_schema(project: Path) -> None:
    write_plan(project, "name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    result = run_br("plan", "validate", "plan.yaml", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["valid"] is True
    schema = json.loads(run_br("plan", "schema").stdout)
    assert "properties" in schema
    write_plan(project, "name: x\ntasks:\n  - id: a\n    run: 'true'\n    depends_on: [b]\n")
    result = run_br("plan", "validate", "plan.yaml")
    assert result.returncode == 2 and "plan.yaml:5: task 'a'" in result.stderr


def test_init_creates_private_store(project: Path) -> None:
    result = run_br("init", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert Path(data["database"]).exists()
    assert oct((project / ".buildrunner").stat().st_mode & 0o777) == "0o700"


def test_ctrl_c_marks_session_interrupted_and_resume_finishes(project: Path) -> None:
    write_plan(
        project,
        "name: long\ntasks:\n  - id: quick\n    run: touch quick\n"
        "  - id: slow\n    depends_on: [quick]\n    run: python -c 'import time; time.sleep(2)'\n",
    )
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    conn = None
    deadline = time.time() + 30
    while time.time() < deadline:
        if (project / ".buildrunner" / "buildrunner.db").exists():
            conn = Store(project).connect()
            row = conn.execute("SELECT status FROM tasks WHERE task_id = 'slow'").fetchone()
            if row and row[0] == "running":
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert conn is not None
    session = conn.execute("SELECT id, status FROM sessions").fetchone()
    assert session["status"] == "interrupted"
    statuses = dict(conn.execute("SELECT task_id, status FROM tasks").fetchall())
    assert statuses == {"quick": "succeeded", "slow": "queued"}
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    (project / "quick").unlink()
    resumed = run_br("run", "--resume", session["id"][:12], "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"]["succeeded"] == 2
    assert not (project / "quick").exists()  # the completed task did not run again


def wait_running(project: Path, task_ids: list[str], timeout_s: float = 30) -> None:
    """Wait until the build in `project` runs exactly these tasks."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if (project / ".buildrunner" / "buildrunner.db").exists():
            conn = Store(project).connect()
            running = [
                row[0]
                for row in conn.execute(
                    "SELECT task_id FROM tasks WHERE status = 'running' ORDER BY task_id"
                )
            ]
            conn.close()
            if running == task_ids:
                return
        time.sleep(0.05)
    raise AssertionError(f"tasks {task_ids} never ran together")


def worker_pids(project: Path) -> list[int]:
    conn = Store(project).connect()
    try:
        return [row[0] for row in conn.execute("SELECT pid FROM workers WHERE pid IS NOT NULL")]
    finally:
        conn.close()


def test_ctrl_c_never_starts_the_task_queued_on_a_worker(project: Path) -> None:
    # one worker: 'slow' runs, 'next' waits in the worker's own queue when Ctrl-C comes
    write_plan(
        project,
        "name: q\ntasks:\n  - id: slow\n    priority: 1\n"
        "    run: python -c 'import time; time.sleep(30)'\n"
        "  - id: next\n    run: touch next-ran\n",
    )
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--workers", "1"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    wait_running(project, ["slow"])
    # 'next' went into the worker's queue in the round that started 'slow'
    db = project / ".buildrunner" / "buildrunner.db"
    wait_for(lambda: dispatch_round_done(db, "slow"), what="a round after slow started")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    # once every worker is gone nothing can start 'next' any more: only then is its absence proof
    workers = worker_pids(project)
    assert workers and wait_for(lambda: all(process_gone(pid) for pid in workers))
    assert not (project / "next-ran").exists()
    conn = Store(project).connect()
    assert [row[0] for row in conn.execute("SELECT task_id FROM attempts")] == ["slow"]
    assert dict(conn.execute("SELECT task_id, status FROM tasks").fetchall()) == {
        "slow": "queued",
        "next": "queued",
    }


def test_sigterm_interrupts_the_build_and_resume_finishes_it(project: Path) -> None:
    # the task records its process group and hangs on its first attempt only
    (project / "task.py").write_text(
        "import os, time\n"
        "if os.environ['BR_ATTEMPT'] == '1':\n"
        "    open('pgid', 'w').write(str(os.getpgid(0)))\n"
        "    time.sleep(60)\n"
        "open('done', 'w').write('done')\n"
    )
    write_plan(
        project,
        "name: term\ntasks:\n  - id: long\n    files: [done]\n"
        "    run: python task.py\n"
        "  - id: after\n    depends_on: [long]\n    run: touch after-ran\n",
    )
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pgid = int(
        wait_for(
            lambda: (project / "pgid").exists() and (project / "pgid").read_text(),
            what="the task's process group",
        )
    )
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr  # interrupted, like Ctrl-C
    assert "Traceback" not in stderr
    summary = json.loads(stdout)
    assert summary["status"] == "interrupted"
    conn = Store(project).connect()
    session_id, status = conn.execute("SELECT id, status FROM sessions").fetchone()
    assert status == "interrupted"
    assert dict(conn.execute("SELECT task_id, status FROM tasks").fetchall()) == {
        "long": "queued",
        "after": "pending",
    }
    assert [tuple(row) for row in conn.execute("SELECT task_id, status FROM attempts")] == [
        ("long", "lost")
    ]
    assert conn.execute("SELECT COUNT(*) FROM locks").fetchone()[0] == 0
    assert wait_for(lambda: not group_alive(pgid), what="the task's processes to die")
    assert conn.execute("SELECT error FROM attempts").fetchone()[0] == "stopped by SIGTERM"

    resumed = run_br("run", "--resume", session_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"]["succeeded"] == 2
    assert (project / "done").exists() and (project / "after-ran").exists()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(
        not process_gone(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _pgid(int(entry.name)) == pgid
    )


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_ctrl_c_in_a_terminal_stops_the_build_without_worker_noise(project: Path) -> None:
    # a terminal's Ctrl-C signals the whole foreground process group, not just `br`
    write_plan(
        project, "name: c\ntasks:\n  - id: a\n    run: sleep 30\n  - id: b\n    run: sleep 30\n"
    )
    process = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--workers", "2"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_running(project, ["a", "b"])
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "lost" not in stderr  # the workers were stopped, not killed by the signal
    conn = Store(project).connect()
    assert {row[0] for row in conn.execute("SELECT status FROM attempts")} == {"lost"}
    assert conn.execute("SELECT status FROM sessions").fetchone()[0] == "interrupted"


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "buildrunner", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
