"""Malformed input across the CLI: one line on stderr, exit 2, never a traceback (hypothesis)."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildrunner.cli.main import main

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def invoke(*args: str) -> tuple[int, str, str]:
    """Run `br ARGS` in-process through the real entry point; return (exit code, out, err)."""
    out, err = io.StringIO(), io.StringIO()
    old_argv = sys.argv
    sys.argv = ["br", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exit_:
                code = (
                    exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
                )
    finally:
        sys.argv = old_argv
    return code, out.getvalue(), err.getvalue()


def assert_clean_error(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines, "an error must say something"
    if lines[0].startswith("br: error:"):
        assert len(lines) == 1, err


yaml_like = st.text(
    alphabet=st.sampled_from(list("abcdefgxyz:- \n[]{}'\"#&*!|>%@`\t0123456789.")), max_size=200
)
plan_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=10), st.integers(), st.none(), st.lists(st.integers())),
        "tasks": st.one_of(
            st.none(),
            st.integers(),
            st.lists(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "id",
                            "run",
                            "prompt",
                            "depends_on",
                            "files",
                            "retries",
                            "bogus",
                            "timeout_s",
                            "model",
                            "cost_limit_usd",
                        ]
                    ),
                    st.one_of(
                        st.text(max_size=8),
                        st.integers(-5, 5),
                        st.lists(st.text(max_size=4)),
                        st.none(),
                        st.floats(allow_nan=True),
                    ),
                    max_size=5,
                ),
                max_size=4,
            ),
        ),
        "budget_usd": st.one_of(st.floats(allow_nan=True), st.text(max_size=4)),
        "extra_key": st.integers(),
    },
)


@FUZZ
@given(text=yaml_like)
def test_random_yaml_text_is_rejected_cleanly(text: str, project: Path) -> None:
    (project / "plan.yaml").write_text(text, encoding="utf-8")
    code, _, err = invoke("plan", "validate", "plan.yaml")
    if code != 0:
        assert_clean_error(code, err)


@FUZZ
@given(data=plan_fields)
def test_structurally_wrong_plans_are_rejected_cleanly(
    data: dict[str, object], project: Path
) -> None:
    import yaml

    (project / "plan.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = invoke("run", "plan.yaml", "--dry-run")
    if code != 0:
        assert_clean_error(code, err)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_binary_plan_files(raw: bytes, project: Path) -> None:
    (project / "plan.yaml").write_bytes(raw)
    code, _, err = invoke("plan", "validate", "plan.yaml")
    if code != 0:
        assert_clean_error(code, err)


toml_like = st.text(
    alphabet=st.sampled_from(list("[]=\"'abrunworkesdtlmy_.0123456789 \n-")), max_size=120
)


@FUZZ
@given(text=toml_like)
def test_random_config_files_are_rejected_cleanly(text: str, project: Path) -> None:
    (project / ".buildrunner").mkdir(exist_ok=True)
    (project / ".buildrunner" / "config.toml").write_text(text, encoding="utf-8")
    (project / "plan.yaml").write_text("name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    code, _, err = invoke("run", "plan.yaml", "--dry-run")
    if code != 0:
        assert_clean_error(code, err)


@FUZZ
@given(
    option=st.sampled_from(["--workers", "--budget", "--backend", "--isolate"]),
    value=st.text(min_size=1, max_size=6).filter(lambda v: not v.startswith("-")),
)
def test_bad_option_values(option: str, value: str, project: Path) -> None:
    (project / "plan.yaml").write_text("name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    code, _, err = invoke("run", "plan.yaml", "--dry-run", option, value)
    if code != 0:
        assert_clean_error(code, err)


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=2000))
def test_corrupt_database(garbage: bytes, project: Path) -> None:
    data_dir = project / ".buildrunner"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "buildrunner.db").write_bytes(b"SQLite format 3\x00" + garbage)
    for suffix in ("-wal", "-shm"):
        (data_dir / f"buildrunner.db{suffix}").unlink(missing_ok=True)
    (project / "plan.yaml").write_text("name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    code, _, err = invoke("run", "plan.yaml")
    if code not in (0, 1):
        assert_clean_error(code, err)


def test_read_only_database(project: Path) -> None:
    import os
    import subprocess

    data_dir = project / ".buildrunner"
    data_dir.mkdir()
    db = data_dir / "buildrunner.db"
    sqlite3.connect(db).close()
    (project / "plan.yaml").write_text("name: x\ntasks:\n  - id: a\n    run: 'true'\n")
    if os.getuid() != 0:
        db.chmod(0o400)
        data_dir.chmod(0o500)
    elif subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a read-only file here (root and no chattr support)")
    try:
        code, _, err = invoke("run", "plan.yaml")
    finally:
        if os.getuid() == 0:
            subprocess.run(["chattr", "-i", str(db)], capture_output=True)
        else:
            data_dir.chmod(0o700)
    assert_clean_error(code, err)
    assert "read-only" in err or "cannot" in err or "not writable" in err


# -- one line and exit 2 for bad input; a crash report and exit 3 for a bug ------------------
def one_line_error(code: int, err: str, *, after_progress: bool = False) -> str:
    """The error line of a failed command; it must be the only line (or the last, after progress)."""
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("br: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    if not after_progress:
        assert len(lines) == 1, err
    return lines[-1]


PLAN_OK = "name: x\ntasks:\n  - id: a\n    run: 'true'\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["routing", "budget", "set", "daily", "-3"], "negative number"),
        (["routing", "budget", "set", "daily", "1e400"], "at most"),
        (["telemetry", "summary", "--hours", "1e308"], "'--hours'"),
        (["telemetry", "performance", "--hours", "inf"], "'--hours'"),
        (["parallel", "list", "--limit", "many"], "'--limit'"),
        (["run", "--bogus"], "no such option: --bogus"),
        (["nope"], "no such command 'nope'"),
        (["parallel", "status", "\udcff\udcfe"], "not valid UTF-8"),
        (["run", "plan.yaml", "--name", "\udcff"], "not valid UTF-8"),
    ],
)
def test_usage_errors_are_one_line(project: Path, args: list[str], expected: str) -> None:
    (project / "plan.yaml").write_text(PLAN_OK)
    code, _, err = invoke(*args)
    assert expected in one_line_error(code, err)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (
            "name: x\ntasks:\n  - id: a\n    run: 'true'\ntasks:\n  - id: b\n    run: 'true'\n",
            "duplicate key 'tasks'",
        ),
        ("name: x\ntasks: " + "[" * 1000 + "]" * 1000 + "\n", "nest"),
        (
            "name: x\ntasks:\n  - id: a\n    run: 'true'\n    priority: 99999999999999999999\n",
            "'priority'",
        ),
        ("name: x\ntasks:\n  - id: a\n    run: 'true'\n    timeout_s: .inf\n", "finite number"),
        ("name: x\ntasks:\n  - id: a\n    run: 'true'\n    cwd: \"a\\0b\"\n", "NUL byte"),
        ("name: x\ntasks:\n  - id: a\n    run: 'true'\n    cwd: ../..\n", "stay inside"),
    ],
)
def test_plans_that_used_to_fail_late_fail_at_validation(
    project: Path, plan: str, expected: str
) -> None:
    (project / "plan.yaml").write_text(plan)
    for command in (["plan", "validate", "plan.yaml"], ["run", "plan.yaml"]):
        code, _, err = invoke(*command)
        assert expected in one_line_error(code, err)


@pytest.mark.parametrize("name", ["pyproject.toml", "buildrunner.toml"])
def test_binary_settings_files(project: Path, name: str) -> None:
    (project / name).write_bytes(b"[tool.buildrunner]\n\xff\xfe = 1\n")
    code, _, err = invoke("parallel", "list")
    assert "not a UTF-8 text file" in one_line_error(code, err)


def test_infinite_busy_timeout_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BR_STORE_BUSY_TIMEOUT_S", "inf")
    code, _, err = invoke("parallel", "list")
    assert "store.busy_timeout_s" in one_line_error(code, err)


def _session_db(project: Path) -> sqlite3.Connection:
    from buildrunner.store.db import Store

    (project / "plan.yaml").write_text(PLAN_OK)
    code, _, err = invoke("run", "plan.yaml")
    assert code == 0, err
    return sqlite3.connect(Store(project).db_path)


@pytest.mark.parametrize(
    ("damage", "command", "expected"),
    [
        ("DROP TABLE events", ["telemetry", "summary"], "table 'events' is missing"),
        ("UPDATE sessions SET created_at = 'garbage'", ["parallel", "list"], "sessions.created_at"),
        ("UPDATE sessions SET metadata = '[1'", ["parallel", "status"], "sessions.metadata"),
        (
            "UPDATE workers SET last_heartbeat = 'x'",
            ["parallel", "workers"],
            "workers.last_heartbeat",
        ),
        ("UPDATE events SET payload = 'not json'", ["telemetry", "events"], "events.payload"),
    ],
)
def test_a_damaged_store_is_bad_input_not_a_bug(
    project: Path, damage: str, command: list[str], expected: str
) -> None:
    conn = _session_db(project)
    conn.execute(damage)
    conn.commit()
    conn.close()
    code, _, err = invoke(*command)
    line = one_line_error(code, err)
    assert "damaged" in line and expected in line


def test_a_corrupt_stored_plan_on_resume(project: Path) -> None:
    conn = _session_db(project)
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    conn.execute("UPDATE sessions SET status = 'failed', plan_json = '{\"name\": 3}'")
    conn.commit()
    conn.close()
    code, _, err = invoke("run", "--resume", session_id)
    line = one_line_error(code, err, after_progress=True)
    assert "stored plan is damaged" in line and "validation error" not in line


def test_read_only_commands_never_create_the_private_folder(project: Path) -> None:
    for command in (
        ["parallel", "list"],
        ["parallel", "status"],
        ["parallel", "summary"],
        ["telemetry", "summary"],
        ["telemetry", "events"],
        ["routing", "costs"],
        ["parallel", "locks"],
        ["parallel", "workers"],
    ):
        code, _, err = invoke(*command)
        assert code == 0, (command, err)
    assert not (project / ".buildrunner").exists()


def test_read_only_checkout(project: Path) -> None:
    from tests.conftest import read_only

    _session_db(project).close()
    with read_only(project):
        for command in (["parallel", "list", "--json"], ["telemetry", "summary", "--json"]):
            code, _, err = invoke(*command)
            assert code == 0, (command, err)
        code, _, err = invoke("run", "plan.yaml")
        assert "Read-only file system" in one_line_error(code, err)


def test_a_full_disk_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        os.getuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        monkeypatch.chdir(disk)
        monkeypatch.setenv("BR_PROJECT_DIR", str(disk))
        (disk / "plan.yaml").write_text(PLAN_OK)
        with open(disk / "filler", "wb") as handle, contextlib.suppress(OSError):
            handle.write(b"\0" * 1_000_000)
        code, _, err = invoke("run", "plan.yaml")
        line = one_line_error(code, err)
        assert "full" in line or "No space left" in line
    finally:
        monkeypatch.chdir(tmp_path)
        subprocess.run(["umount", str(disk)], capture_output=True)


def boom_command() -> None:
    """A command with a bug in it (for the crash report test)."""
    secret = "sk-ant-api03-" + "A1b2C3d4" * 10
    raise ZeroDivisionError(f"division by zero near {secret}")


def test_a_bug_writes_a_masked_crash_report_and_exits_3(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from buildrunner.cli import main as cli_main

    monkeypatch.setitem(cli_main.COMMANDS, "boom", (__name__, "boom_command", "Fails."))
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    (project / ".buildrunner").mkdir()
    code, _, err = invoke("boom", "--help")
    assert code == 0
    code, _, err = invoke("boom")
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "ZeroDivisionError" in lines[0] and "crash report:" in lines[0]
    assert "A1b2C3d4A1b2C3d4" not in err
    report = Path(lines[0].rsplit("crash report: ", 1)[1])
    assert report.parent == project / ".buildrunner" / "logs"
    text = report.read_text()
    assert "version: br " in text and "command: br boom" in text and "ZeroDivisionError" in text
    assert "Traceback" in text and "A1b2C3d4A1b2C3d4" not in text
