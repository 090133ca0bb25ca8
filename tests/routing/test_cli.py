"""`br routing ...` through the real CLI app, in a temporary project."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buildrunner.cli.main import app
from buildrunner.routing.costs import CostTracker
from buildrunner.store.db import Store
from tests.conftest import run_br

runner = CliRunner()


def br(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_estimate_json(project: Path) -> None:
    code, out, _ = br("routing", "estimate", "Fix typo in README", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"level", "score", "signals"} and data["level"] == "simple"
    code, out, _ = br("routing", "estimate", "Fix typo", "--estimator", "heuristic", "--json")
    assert json.loads(out)["signals"]["matched"]["trivial"] == ["typo"]


def test_estimate_from_file_prints_one_json_line_per_task(project: Path) -> None:
    tasks = project / "tasks.jsonl"
    tasks.write_text(
        '{"id": "a", "text": "Fix typo in README"}\n\n'
        '{"id": "b", "text": "Fix the security vulnerability in the login flow"}\n',
        encoding="utf-8",
    )
    code, out, _ = br("routing", "estimate", "--from-file", str(tasks), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["id"] for line in lines] == ["a", "b"]
    assert lines[1]["level"] == "critical" and set(lines[0]) == {"id", "level", "score"}


def test_select_json_explains_the_choice(project: Path) -> None:
    code, out, _ = br("routing", "select", "Fix typo in README", "--json")
    data = json.loads(out)
    assert code == 0 and data["model"].startswith("claude-sonnet") and data["level"] == "simple"
    assert data["ladder"] == [data["model"]] and data["p"][data["model"]] > 0.5
    assert Decimal(data["estimated_cost_usd"]) > 0 and data["reason"].startswith(
        "simple task: sonnet"
    )
    code, out, _ = br("routing", "select", "Fix typo in README", "--checks", "--json")
    data = json.loads(out)
    assert [m.split("-")[1] for m in data["ladder"]] == ["haiku", "sonnet"]
    code, out, _ = br("routing", "select", "Fix typo", "--model", "opus", "--json")
    assert json.loads(out)["model"].startswith("claude-opus")


def test_select_from_file_prints_model_ladder_level_and_p_per_task(project: Path) -> None:
    tasks = project / "tasks.jsonl"
    tasks.write_text(
        '{"id": "a", "text": "Fix typo in README"}\n\n'
        '{"id": 7, "text": "Fix typo in README", "checks": ["pytest -q"]}\n'
        '{"id": "c", "text": "Fix typo in README", "files": ["a/x.py", "b/y.py"], "checks": true}\n',
        encoding="utf-8",
    )
    result = run_br("routing", "select", "--from-file", str(tasks), "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7, "c"]
    assert set(lines[0]) == {"id", "model", "ladder", "level", "p"}
    assert lines[0]["ladder"] == [lines[0]["model"]] and "sonnet" in lines[0]["model"]
    assert len(lines[1]["ladder"]) == 2 and lines[1]["model"] == lines[1]["ladder"][0]
    assert "haiku" not in lines[2]["model"]
    assert all(0 < p < 1 for p in lines[1]["p"].values())
    # options apply to every line: --checks gives line a a ladder, --model pins them all
    result = run_br("routing", "select", "--from-file", str(tasks), "--checks", "--json")
    assert len(json.loads(result.stdout.splitlines()[0])["ladder"]) == 2
    result = run_br("routing", "select", "--from-file", str(tasks), "--model", "opus", "--json")
    assert {tuple(json.loads(line)["ladder"]) for line in result.stdout.splitlines()} == {
        ("claude-opus-4-6",)
    }
    # a task nothing can be chosen for is reported on its line; the run exits 1 (failed tasks)
    result = run_br("routing", "select", "--from-file", str(tasks), "--cost-limit", "0.000001")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and [line["id"] for line in lines] == ["a", 7, "c"]
    assert all(line["error"].startswith("no model fits") for line in lines)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "b"}', "tasks.jsonl:3: expected a JSON object with a string 'text'"),
        ('{"text": "x", "files": [1]}', "tasks.jsonl:3: expected"),
        ('{"text": "x", "checks": {"run": "x"}}', "tasks.jsonl:3: 'checks' must be a command"),
        ("[" * 5000 + "]" * 5000, "tasks.jsonl:3: expected"),
        ("not json", "tasks.jsonl:3: expected"),
    ],
)
def test_select_from_file_bad_line_is_a_one_line_error(
    project: Path, bad: str, message: str
) -> None:
    tasks = project / "tasks.jsonl"
    tasks.write_text(f'{{"id": "ok", "text": "fine"}}\n\n{bad}\n', encoding="utf-8")
    result = run_br("routing", "select", "--from-file", str(tasks), "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"br: error: {tasks}:3: " + message.split(":3: ", 1)[1])
    assert len(result.stderr.strip().splitlines()) == 1
    tasks.write_bytes(b'{"id": "a", "text": "caf\xe9"}\n')
    result = run_br("routing", "select", "--from-file", str(tasks))
    assert result.returncode == 2 and "not UTF-8 text" in result.stderr


def test_select_cost_limit_too_small_fails_with_a_reason(project: Path) -> None:
    result = run_br(
        "routing", "select", "Redesign the plugin architecture", "--cost-limit", "0.000001"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("br: error: no model fits") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["routing", "select", "x", "--cost-limit", "lots"],
        ["routing", "select", "x", "--cost-limit", "-1"],
        ["routing", "select", "x", "--model", "gpt-9"],
        ["routing", "costs", "--period", "year"],
        ["routing", "costs", "--by", "colour"],
        ["routing", "budget", "set", "hourly", "5"],
        ["routing", "budget", "set", "daily", "zero"],
        ["routing", "budget", "set", "daily", "0"],
        ["routing", "estimate", "x", "--estimator", "magic"],
        ["routing", "estimate"],
    ],
)
def test_bad_values_are_one_line_errors_with_exit_2(project: Path, args: list[str]) -> None:
    result = run_br(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_from_file_line_is_an_error(project: Path) -> None:
    tasks = project / "tasks.jsonl"
    for bad in ('{"id": "a"}', '{"id": "a", "text": "x", "files": "a.py"}', "not json"):
        tasks.write_text(f'{{"id": "ok", "text": "fine"}}\n{bad}\n', encoding="utf-8")
        result = run_br("routing", "estimate", "--from-file", str(tasks))
        assert result.returncode == 2 and "tasks.jsonl:2" in result.stderr


def test_models_json_lists_prices_as_strings_and_lifecycle(project: Path) -> None:
    code, out, _ = br("routing", "models", "--json")
    data = json.loads(out)
    ids = [m["id"] for m in data["models"]]
    assert code == 0 and "claude-opus-4-6" in ids and "claude-opus-4-5-20251101" in ids
    opus = next(m for m in data["models"] if "opus" in m["aliases"])
    assert opus["input_per_mtok"] == "5.00" and opus["output_per_mtok"] == "25.00"
    old = next(m for m in data["models"] if m["id"] == "claude-opus-4-5-20251101")
    assert (old["deprecated_on"], old["retires_on"]) == ("2026-11-30", "2027-01-22")
    assert opus["status"] == "active" and old["status"] in ("deprecated", "retired")
    code, out, _ = br("routing", "models", "--no-legacy", "--json")
    assert all(not m["legacy"] for m in json.loads(out)["models"])


def test_models_table_on_80_columns_keeps_ids_statuses_and_dates(project: Path) -> None:
    result = run_br("routing", "models", env={"COLUMNS": "80"})
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert max(len(line) for line in lines) <= 80
    for model_id in ("claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929", "claude-opus-4-6"):
        assert any(model_id in line for line in lines), model_id
    row = next(line for line in lines if "claude-opus-4-5-20251101" in line)
    assert "2027-01-22" in row and ("deprecated" in row or "retired" in row)
    wide = run_br("routing", "models", env={"COLUMNS": "200"}).stderr
    assert "cache w" in wide and "cache w" not in result.stderr


def test_stats_shows_recorded_rungs_per_level_and_model(project: Path) -> None:
    result = run_br("routing", "stats")
    assert result.returncode == 0 and "no judged agent rungs" in result.stderr
    assert not (project / ".buildrunner").exists()  # reading stats creates nothing
    from buildrunner.routing.history import record_rung

    conn = Store(project).connect()
    for task, rung, model, accepted, rounds in (
        ("a", 0, "claude-haiku-4-5-20251001", False, 2),
        ("a", 1, "claude-sonnet-4-6", True, 0),
        ("b", 0, "claude-haiku-4-5-20251001", True, 1),
    ):
        record_rung(conn, session_id="s", task_id=task, level="simple", model=model, rung=rung,
                    fix_rounds=rounds, accepted=accepted, first_try=accepted and rounds == 0,
                    cost_usd=Decimal("0.02"))  # fmt: skip
    conn.close()
    code, out, _ = br("routing", "stats", "--json")
    rows = {row["model"]: row for row in json.loads(out)["rows"]}
    haiku = rows["claude-haiku-4-5-20251001"]
    assert (haiku["attempts"], haiku["accepted"], haiku["first_try"]) == (2, 1, 0)
    assert haiku["mean_fix_rounds"] == 1.5 and haiku["cost_per_accepted_usd"] == "0.040000"
    assert (
        rows["claude-sonnet-4-6"]["escalated"] == 1
        and rows["claude-sonnet-4-6"]["first_try_rate"] == 1.0
    )
    table = run_br("routing", "stats", env={"COLUMNS": "120"}).stderr
    assert "claude-haiku-4-5-20251001" in table and "$0.040000" in table and "50%" in table
    code, out, _ = br("routing", "stats", "--days", "1", "--json")
    assert len(json.loads(out)["rows"]) == 2
    # what the project learned shows in the next decision's reason, once it is decisive
    conn = Store(project).connect()
    for i in range(12):
        record_rung(conn, session_id="s2", task_id=f"t{i}", level="simple",
                    model="claude-haiku-4-5-20251001", rung=0, fix_rounds=2, accepted=False,
                    first_try=False, cost_usd=Decimal("0.01"))  # fmt: skip
    conn.close()
    code, out, _ = br("routing", "select", "Fix typo in README", "--checks", "--json")
    data = json.loads(out)
    assert code == 0 and "haiku" not in data["model"] and "not starting on haiku" in data["reason"]


def test_catalog_from_project_config(project: Path) -> None:
    (project / "cheap.toml").write_text(
        '[[models]]\nid = "only-one"\ntier = "t"\ninput_per_mtok = 1\noutput_per_mtok = 2\n',
        encoding="utf-8",
    )
    (project / ".buildrunner").mkdir()
    (project / ".buildrunner" / "config.toml").write_text('[routing]\ncatalog = "cheap.toml"\n')
    code, out, _ = br("routing", "models", "--json")
    assert code == 0 and [m["id"] for m in json.loads(out)["models"]] == ["only-one"]
    code, out, _ = br("routing", "select", "Redesign everything", "--json")
    data = json.loads(out)
    assert code == 0 and data["model"] == "only-one" and "no outcome data" in data["reason"]


def test_costs_and_budgets_round_trip(project: Path) -> None:
    conn = Store(project).connect()
    tracker = CostTracker(conn)
    tracker.record("s1", "t1", "claude-sonnet-4-5-20250929", "anthropic", 1000, 500, 0, 0,
                   Decimal("0.0105"), 900.0, "success")  # fmt: skip
    tracker.record("s2", "t2", "claude-haiku-4-5-20251001", "anthropic", 100, 50, 0, 0,
                   Decimal("0.00035"), 300.0, "error")  # fmt: skip
    conn.close()
    code, out, _ = br("routing", "costs", "--by", "model", "--json")
    data = json.loads(out)
    assert code == 0 and data["total"]["cost_usd"] == "0.010850" and data["total"]["calls"] == 2
    assert [g["key"] for g in data["groups"]] == [
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
    ]
    code, out, _ = br("routing", "costs", "--period", "day", "--by", "session", "--json")
    assert {g["key"] for g in json.loads(out)["groups"]} == {"s1", "s2"}

    assert br("routing", "budget", "set", "daily", "0.01")[0] == 0
    assert br("routing", "budget", "set", "session", "2", "--soft")[0] == 0
    code, out, _ = br("routing", "budget", "show", "--json")
    budgets = {b["scope"]: b for b in json.loads(out)["budgets"]}
    assert budgets["daily"]["hard"] is True and budgets["daily"]["spent_usd"] == "0.010850"
    assert budgets["daily"]["exceeded"] is True and budgets["session"]["hard"] is False
    assert budgets["session"]["spent_usd"] is None  # needs --session
    code, out, _ = br("routing", "budget", "show", "--session", "s1", "--json")
    budgets = {b["scope"]: b for b in json.loads(out)["budgets"]}
    assert budgets["session"]["spent_usd"] == "0.010500"
    assert br("routing", "budget", "remove", "daily")[0] == 0
    code, out, _ = br("routing", "budget", "show", "--json")
    assert [b["scope"] for b in json.loads(out)["budgets"]] == ["session"]


def test_human_output_goes_to_stderr(project: Path) -> None:
    result = run_br("routing", "select", "Fix typo in README")
    assert result.returncode == 0 and result.stdout == "" and "why:" in result.stderr
    result = run_br("routing", "costs")
    assert result.returncode == 0 and "$0.000000 over 0 calls" in result.stderr
