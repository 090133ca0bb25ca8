"""Log excerpts: the end of each attempt's log, masked, within a shared budget."""

from __future__ import annotations

from pathlib import Path

from buildrunner.store.db import connect
from buildrunner.telemetry.report.logs import MIN_EXCERPT_BYTES, log_excerpts
from buildrunner.telemetry.session_reader import load_timeline
from tests.telemetry.sessions import SECRET, write_verified_session

T0 = 1_700_000_000.0


def excerpts(
    db_path: Path, logs: Path, budget: int, read_from: Path | None = None
) -> dict[str, object]:
    session_id = write_verified_session(db_path, T0, logs_root=logs)
    conn = connect(db_path)
    timeline = load_timeline(conn, session_id)
    conn.close()
    return {
        excerpt.anchor: excerpt for excerpt in log_excerpts(timeline, read_from or logs, budget)
    }


def test_each_attempt_log_is_excerpted_masked_and_in_plan_order(
    db_path: Path, tmp_path: Path
) -> None:
    found = excerpts(db_path, tmp_path / "logs", 100_000)
    assert list(found) == ["log-lint-1", "log-tests-1", "log-tests-2"]  # the others have no log
    lint = found["log-lint-1"]
    assert not lint.truncated and lint.text.startswith("line 1\n")  # type: ignore[attr-defined]
    assert SECRET not in lint.text and "AWS_ACCESS_KEY_ID=AKIA" in lint.text  # type: ignore[attr-defined]


def test_a_small_budget_keeps_whole_last_lines(db_path: Path, tmp_path: Path) -> None:
    found = excerpts(db_path, tmp_path / "logs", 0)
    lint = found["log-lint-1"]
    assert lint.truncated  # type: ignore[attr-defined]
    text = lint.text  # type: ignore[attr-defined]
    assert len(text.encode()) <= MIN_EXCERPT_BYTES
    assert text.startswith("line ") and text.rstrip().endswith("AWS_ACCESS_KEY_ID=AKIA…MJ5K")


def test_no_logs_folder_means_no_excerpts(db_path: Path, tmp_path: Path) -> None:
    assert excerpts(db_path, tmp_path / "logs", 100_000, read_from=tmp_path / "missing") == {}
