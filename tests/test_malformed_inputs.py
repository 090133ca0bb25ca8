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
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
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
                    st.sampled_from(["id", "run", "prompt", "depends_on", "files", "retries",
                                     "bogus", "timeout_s", "model", "cost_limit_usd"]),
                    st.one_of(st.text(max_size=8), st.integers(-5, 5), st.lists(st.text(max_size=4)),
                              st.none(), st.floats(allow_nan=True)),
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
def test_structurally_wrong_plans_are_rejected_cleanly(data: dict[str, object], project: Path) -> None:
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


toml_like = st.text(alphabet=st.sampled_from(list("[]=\"'abrunworkesdtlmy_.0123456789 \n-")), max_size=120)


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
