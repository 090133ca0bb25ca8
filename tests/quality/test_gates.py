"""Quality gates and gap analysis on real builds in a temporary project."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from buildrunner.config import load_settings
from buildrunner.gaps import analyze
from buildrunner.quality.checks import check_quality
from buildrunner.quality.coverage import CoverageReportError, read_total_coverage
from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan

PLAN = """\
name: gated
tasks:
  - id: tests
    test: true
    run: {tests}
  - id: make-report
    files: [out/report.txt]
    depends_on: [tests]
    run: sh -c 'mkdir -p out && echo ok > out/report.txt'
  - id: promised
    files: [out/never.txt]
    run: 'true'
"""


def build(project: Path, tests_command: str = "'true'") -> None:
    write_plan(project, PLAN.format(tests=tests_command))
    run_br("run", "plan.yaml", "--json")


def gates(project: Path) -> dict[str, tuple[str, str]]:
    store = Store(project)
    conn = store.connect()
    _, results = check_quality(conn, project, load_settings(project, environ={}))
    return {result.gate: (result.outcome, result.reason) for result in results}


def test_clean_build_passes_and_unconfigured_gates_skip(project: Path) -> None:
    build(project)
    result = gates(project)
    assert result["tests"][0] == "pass"
    assert result["security"][0] == "pass"
    assert result["alerts"][0] == "pass"
    assert result["coverage"][0] == "skip" and result["budget"][0] == "skip"


def test_failed_test_task_fails_the_gate(project: Path) -> None:
    build(project, "'false'")
    outcome, reason = gates(project)["tests"]
    assert outcome == "fail" and "tests failed" in reason


def test_coverage_gate_reads_json_and_xml(project: Path) -> None:
    build(project)
    (project / ".buildrunner" / "config.toml").write_text(
        "[quality]\nmin_coverage = 80\ncoverage_file = 'coverage.json'\n"
    )
    (project / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": 72.5}}))
    assert gates(project)["coverage"] == ("fail", "72.5% covered (minimum 80%)")
    (project / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": 91.0}}))
    assert gates(project)["coverage"][0] == "pass"
    xml = project / "coverage.xml"
    xml.write_text('<?xml version="1.0" ?><coverage line-rate="0.5" version="7"></coverage>')
    assert read_total_coverage(xml) == 50.0
    xml.write_text("<nonsense")
    try:
        read_total_coverage(xml)
    except CoverageReportError as exc:
        assert "not a Cobertura" in str(exc)
    else:
        raise AssertionError("a broken report must be an error")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found (run 'coverage json')"),
        ("{}", "is not a coverage.py JSON report"),
        ("not json", "is not a coverage.py JSON report"),
        ("<coverage/>", "is not a Cobertura XML coverage report"),
        ("directory", "cannot read coverage report"),
    ],
)
def test_unusable_coverage_reports_are_one_clear_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    report = tmp_path / "coverage.json"
    if content == "directory":
        report.mkdir()
    elif content is not None:
        report.write_text(content)
    with pytest.raises(CoverageReportError, match=re.escape(message)):
        read_total_coverage(report)


def test_budget_and_critical_alert_gates(project: Path) -> None:
    build(project)
    conn = Store(project).connect()
    conn.execute(
        "INSERT INTO budgets(scope, limit_micro_usd, hard, updated_at) VALUES ('daily', 1000000, 1, 0)"
    )
    conn.execute(
        "INSERT INTO costs(ts, session_id, task_id, model, cost_micro_usd) VALUES (?, 's', 't', 'm', 1500000)",
        (time.time(),),
    )
    conn.execute(
        "INSERT INTO alerts(threshold, level, status, message, fired_at) VALUES ('low_success_rate', 'critical', 'firing', 'm', 0)"
    )
    result = gates(project)
    assert result["budget"][0] == "fail" and "daily $1.50 > $1.00" in result["budget"][1]
    assert result["alerts"][0] == "fail" and "low_success_rate" in result["alerts"][1]


def test_security_gate_fails_on_a_new_secret_and_baseline_accepts_it(project: Path) -> None:
    build(project)
    (project / "settings.py").write_text(
        'GITHUB_TOKEN = "ghp_' + "x7Kq9Lm2Np4Rs6Tv8Wx0Yz1Ab3Cd5Ef7Gh9Ij" + '"\n'
    )
    security = gates(project)["security"]
    assert security[0] == "fail"
    assert run_br("security", "baseline").returncode == 0
    assert gates(project)["security"][0] == "pass"


def test_gaps_list_failed_skipped_missing_files_and_findings(project: Path) -> None:
    build(project, "'false'")
    (project / "db.py").write_text(
        "def find(cursor, name):\n    cursor.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n"
    )
    store = Store(project)
    conn = store.connect()
    session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    from buildrunner.quality.checks import project_findings

    findings, _ = project_findings(project, load_settings(project, environ={}))
    gaps = analyze(conn, session_id, project, security_findings=findings)
    kinds = [(gap.priority, gap.kind, gap.subject) for gap in gaps]
    assert ("critical", "task_failed", "tests") in kinds
    assert ("high", "task_skipped", "make-report") in kinds
    assert ("high", "file_missing", "out/never.txt") in kinds
    assert any(kind == "security" and subject.startswith("db.py:2") for _, kind, subject in kinds)
    priorities = [gap.priority for gap in gaps]
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    assert priorities == sorted(priorities, key=order.__getitem__)


def test_cli_quality_and_gaps(project: Path) -> None:
    build(project)
    result = run_br("quality", "check", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passed"] is True
    gaps = run_br("gaps", "analyze", "--json")
    assert gaps.returncode == 1  # out/never.txt was promised and never made
    data = json.loads(gaps.stdout)
    assert [gap["subject"] for gap in data["gaps"]] == ["out/never.txt"]
    build(project, "'false'")
    assert run_br("quality", "check").returncode == 1
    assert run_br("gaps", "analyze", "--session", "nope").returncode == 2


def test_gates_run_after_the_build_when_configured(project: Path) -> None:
    (project / ".buildrunner").mkdir()
    (project / ".buildrunner" / "config.toml").write_text(
        "[quality]\nrun_after_build = true\nmin_coverage = 90\n"
    )
    (project / "coverage.json").write_text(json.dumps({"totals": {"percent_covered": 50.0}}))
    write_plan(
        project,
        PLAN.format(tests="'true'").replace(
            "  - id: promised\n    files: [out/never.txt]\n    run: 'true'\n", ""
        ),
    )
    result = run_br("run", "plan.yaml", "--json")
    data = json.loads(result.stdout)
    assert data["status"] == "completed"
    assert result.returncode == 1  # every task passed but the coverage gate did not
    gates = {gate["gate"]: gate["outcome"] for gate in data["quality"]["gates"]}
    assert gates["coverage"] == "fail" and gates["tests"] == "pass"


def test_a_configured_test_task_missing_from_the_build_fails_the_gate(project: Path) -> None:
    build(project)
    (project / ".buildrunner" / "config.toml").write_text("[quality]\ntest_task = 'unit-tests'\n")
    outcome, reason = gates(project)["tests"]
    assert outcome == "fail" and "not in this build: unit-tests" in reason
