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
    assert code == 0 and data["model"].startswith("claude-haiku") and data["level"] == "simple"
    assert Decimal(data["estimated_cost_usd"]) > 0 and "fast tier" in data["reason"]
    code, out, _ = br("routing", "select", "Fix typo", "--model", "opus", "--json")
    assert json.loads(out)["model"].startswith("claude-opus")


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


def test_models_json_lists_prices_as_strings(project: Path) -> None:
    code, out, _ = br("routing", "models", "--json")
    data = json.loads(out)
    ids = [m["id"] for m in data["models"]]
    assert code == 0 and any(i.startswith("claude-opus-4-5") for i in ids)
    opus = next(m for m in data["models"] if "opus" in m["aliases"])
    assert opus["input_per_mtok"] == "5.00" and opus["output_per_mtok"] == "25.00"
    code, out, _ = br("routing", "models", "--no-legacy", "--json")
    assert all(not m["legacy"] for m in json.loads(out)["models"])


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
    assert code == 0 and json.loads(out)["model"] == "only-one"


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
