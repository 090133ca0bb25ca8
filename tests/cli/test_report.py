"""`br report`: the newest session by default, to report.html, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan


def test_the_newest_session_goes_to_report_html(project: Path) -> None:
    write_plan(project, 'name: small\ntasks:\n  - id: one\n    run: python -c "print(1)"\n')
    assert run_br("run", "plan.yaml", cwd=project).returncode == 0
    result = run_br("report", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "wrote report.html (1 task," in result.stderr and result.stdout == ""
    html = (project / "report.html").read_text(encoding="utf-8")
    assert "Build report: small" in html and 'id="task-one"' in html
    again = json.loads(run_br("report", "small", "-o", "again.html", "--json", cwd=project).stdout)
    assert again["path"] == "again.html" and again["tasks"] == 1 and again["size_bytes"] > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "no sessions yet"),
        (["nope"], "no session 'nope'"),
        (["-o", "missing/report.html"], "folder missing does not exist"),
        (["-o", "."], "is a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project: Path, args: list[str], message: str) -> None:
    Store(project).connect().close()
    result = run_br("report", *args, cwd=project)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("br: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
