"""Acceptance checks run as real commands in a real directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from buildrunner.build.checks import Round, run_checks
from tests.security.tokens import TokenFactory

WHERE = Round(attempt=1, rung=2, round=1, model="claude-test")


def _run(
    tmp_path: Path, commands: list[str], timeout_s: float | None = 30
) -> tuple[Any, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    results = run_checks(
        commands,
        workdir=tmp_path,
        env={"PATH": "/usr/bin:/bin", "GREETING": "hi"},
        timeout_s=timeout_s,
        log_path=tmp_path / "task.log",
        where=WHERE,
        emit=events.append,
    )
    return results, events


def test_checks_run_in_order_and_stop_at_the_first_failure(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine\n")
    results, events = _run(
        tmp_path,
        [
            "test -f ok.txt && echo $GREETING",
            "echo first line; echo 'AssertionError: 2 != 3' >&2; exit 3",
            "touch never-ran",
        ],
    )
    assert [r.passed for r in results] == [True, False]
    failed = results[-1]
    assert failed.exit_code == 3 and "AssertionError: 2 != 3" in failed.output_tail
    assert "exited with code 3" in failed.feedback() and failed.command in failed.feedback()
    assert not (tmp_path / "never-ran").exists()
    assert [e["type"] for e in events] == [
        "check_started",
        "check_passed",
        "check_started",
        "check_failed",
    ]
    assert all(e["rung"] == 2 and e["round"] == 1 and e["model"] == "claude-test" for e in events)
    log = (tmp_path / "task.log").read_text()
    assert "--- check 1/3" in log and "hi" in log and "--- check 2/3" in log


def test_a_check_that_hangs_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    results, events = _run(tmp_path, ["sleep 600"], timeout_s=0.5)
    assert results[0].timed_out and not results[0].passed
    assert "timed out" in results[0].feedback()
    assert events[-1]["type"] == "check_failed" and events[-1]["timed_out"] is True


def test_a_check_that_prints_a_secret_is_masked_in_log_tail_and_feedback(tmp_path: Path) -> None:
    secret = TokenFactory(9).github()
    results, events = _run(tmp_path, [f"echo token={secret}; exit 1"])
    assert secret not in results[0].output_tail and secret not in results[0].feedback()
    assert secret not in (tmp_path / "task.log").read_text()
    assert secret not in str(events[-1])


def test_a_module_rewritten_in_the_same_second_at_the_same_size_is_checked_anew(
    tmp_path: Path,
) -> None:
    # the verified-task fix loop: round 0 writes `a - b`, its check imports it; round 1 writes
    # `a + b` (same size, same second): the check must see the new code, not a cached one
    module = tmp_path / "calc.py"
    check = f"{sys.executable} -c 'import calc; assert calc.add(2, 3) == 5'"
    module.write_text("def add(a, b):\n    return a - b\n")
    stamp = module.stat().st_mtime_ns
    assert [r.passed for r in _run(tmp_path, [check])[0]] == [False]
    module.write_text("def add(a, b):\n    return a + b\n")
    os.utime(module, ns=(stamp, stamp))
    assert [r.passed for r in _run(tmp_path, [check])[0]] == [True]
