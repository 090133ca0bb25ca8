"""`br telemetry ...` on real databases: a real build, then every command, and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from buildrunner.cli.main import app
from buildrunner.store.db import Store
from buildrunner.telemetry import events as ev
from tests.conftest import run_br, write_plan

from .conftest import write_events

runner = CliRunner()


def br_json(*args: str) -> Any:
    result = runner.invoke(app, ["telemetry", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def seed(project: Path) -> Path:
    db = Store(project).db_path
    Store(project).connect().close()
    now = time.time()
    write_events(
        db,
        [
            ev.TaskCompleted(
                ts=now - 100, session_id="s1", task_id="a", kind="command", duration_ms=100.0
            ),
            ev.TaskFailed(
                ts=now - 90,
                session_id="s1",
                task_id="b",
                kind="agent",
                duration_ms=50.0,
                error_type="timeout",
            ),
            ev.ModelCallCompleted(
                ts=now - 80, session_id="s1", model="sonnet", cost_usd=0.5, latency_ms=900.0
            ),
            ev.SecurityViolation(ts=now - 70, session_id="s1", path="x.py", rule_id="aws-key"),
            ev.TaskQueued(ts=now - 3 * 86400, session_id="s0", task_id="old"),
        ],
    )
    return db


def test_summary_events_and_groups(project: Path) -> None:
    seed(project)
    summary = br_json("summary")
    assert (summary["task_attempts"], summary["tasks_failed"], summary["model_calls"]) == (2, 1, 1)
    assert summary["cost_usd"] == 0.5
    assert summary["errors"] == {"task:timeout": 1}
    by_kind = br_json("summary", "--by", "kind", "--hours", "1")
    assert {g["key"]: g["task_attempts"] for g in by_kind["groups"]} == {
        "command": 1,
        "agent": 1,
        None: 0,
    }
    listed = br_json("events", "--type", "task_failed", "--type", "task_completed")
    assert [e["task_id"] for e in listed["events"]] == ["b", "a"]
    assert br_json("events", "--limit", "1")["events"][0]["type"] == "security_violation"
    assert br_json("events", "--since", "7d", "--session", "s0")["count"] == 1
    assert br_json("events", "--since", "1d", "--session", "s0")["count"] == 0


def test_alerts_check_fires_and_lists(project: Path) -> None:
    seed(project)
    checked = br_json("alerts", "--check")
    fired = {c["threshold"] for c in checked["changes"]}
    assert fired == {"security_violations"}
    assert [a["threshold"] for a in br_json("alerts", "--level", "critical")["alerts"]] == [
        "security_violations"
    ]
    assert br_json("alerts", "--level", "critical", "--check")["changes"] == []  # fired once
    assert br_json("alerts", "--all")["count"] == 1
    names = [t["name"] for t in br_json("thresholds")["thresholds"]]
    assert "consecutive_failures" in names and len(names) == 11


def test_thresholds_follow_the_project_config(project: Path) -> None:
    (project / ".buildrunner").mkdir(exist_ok=True)
    (project / ".buildrunner" / "config.toml").write_text(
        "[telemetry.thresholds.security_violations]\nenabled = false\n"
        "[telemetry.thresholds.hourly_cost]\nvalue = 0.25\nlevel = 'critical'\n"
    )
    seed(project)
    thresholds = {t["name"]: t for t in br_json("thresholds")["thresholds"]}
    assert "security_violations" not in thresholds
    assert (thresholds["hourly_cost"]["value"], thresholds["hourly_cost"]["level"]) == (
        0.25,
        "critical",
    )
    assert {c["threshold"] for c in br_json("alerts", "--check")["changes"]} == {"hourly_cost"}


def test_export_and_prune(project: Path) -> None:
    seed(project)
    out = br_json("export", str(project / "all.jsonl"), "--since", "2d")
    assert (out["format"], out["events"]) == ("jsonl", 4)
    out = br_json("export", str(project / "all.csv"), "--type", "task_failed")
    assert (out["format"], out["events"]) == ("csv", 1)
    assert (project / "all.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert br_json("prune", "--days", "1", "--dry-run")["events"] == 1
    assert br_json("prune", "--days", "1")["events"] == 1
    assert br_json("prune", "--days", "1")["events"] == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["summary", "--by", "color"], "--by must be one of"),
        (["events", "--type", "nope"], "unknown event type 'nope'"),
        (["events", "--since", "last tuesday"], "--since: cannot read"),
        (["alerts", "--level", "loud"], "--level must be one of"),
        (["export", "out.txt", "--format", "xml"], "--format must be one of csv, jsonl, trace"),
        (["export", "missing/dir/out.csv"], "does not exist"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(project: Path, args: list[str], message: str) -> None:
    result = run_br("telemetry", *args, cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith("br: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_real_build_flows_through_the_collector(project: Path) -> None:
    write_plan(
        project,
        "name: demo\ntasks:\n"
        "  - id: ok\n    run: python -c \"print('hi')\"\n"
        '  - id: bad\n    run: python -c "raise SystemExit(3)"\n',
    )
    result = run_br("run", "plan.yaml", "--json", cwd=project)
    assert result.returncode == 1, result.stderr
    summary = json.loads(run_br("telemetry", "summary", "--json", cwd=project).stdout)
    assert (summary["tasks_succeeded"], summary["tasks_failed"]) == (1, 1)
    assert summary["task_latency"]["count"] == 2
    types = {
        e["type"]
        for e in json.loads(run_br("telemetry", "events", "--json", cwd=project).stdout)["events"]
    }
    assert {
        "session_started",
        "task_started",
        "task_completed",
        "task_failed",
        "session_failed",
    } <= types
    performance = json.loads(run_br("telemetry", "performance", "--json", cwd=project).stdout)
    assert (performance["succeeded"], performance["failed"]) == (1, 1)
    assert performance["throughput_per_min"] > 0
    assert {k["kind"] for k in performance["by_kind"]} == {"command"}


def test_human_output_shows_the_same_facts(project: Path) -> None:
    seed(project)

    def human(*args: str) -> str:
        # A real process with its own terminal width: an in-process console keeps the width it
        # read when it was created (80 under pytest-xdist, which sets COLUMNS), so cells wrap.
        result = run_br("telemetry", *args, cwd=project, env={"COLUMNS": "200"})
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""  # tables go to stderr: stdout stays for --json
        return result.stderr

    summary = human("summary", "--by", "kind")
    assert "errors by type" in summary and "task:timeout" in summary
    assert "by kind" in summary and "command" in summary and "agent" in summary
    events = human("events", "--limit", "3")
    assert "security_violation" in events and "rule_id=aws-key" in events
    checked = human("alerts", "--check")
    assert "firing: security_violations (critical)" in checked
    listed = human("alerts")
    assert "security_violations" in listed and "critical" in listed and "no alerts" not in listed
    assert "no events" in human("events", "--session", "nobody")


def test_event_types_stay_whole_on_a_narrow_terminal(project: Path) -> None:
    seed(project)
    result = run_br("telemetry", "events", "--limit", "3", cwd=project, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert all(len(line) <= 80 for line in result.stderr.splitlines())
    assert "security_violation" in result.stderr and "model_call_completed" in result.stderr
