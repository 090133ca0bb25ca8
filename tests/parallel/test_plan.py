from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildrunner.errors import PlanError
from buildrunner.parallel.plan import (
    find_cycle,
    load_plan,
    parse_plan,
    plan_json_schema,
    topological_order,
)

GOOD = """\
name: demo
tasks:
  - id: a
    run: echo a
  - id: b
    run: echo b
    depends_on: [a]
  - id: c
    prompt: Add a README
    files: [README.md]
    depends_on: [a]
  - id: d
    run: echo d
    depends_on: [b, c]
"""


def test_valid_plan_parses_with_kinds_and_order() -> None:
    plan = parse_plan(GOOD)
    assert [task.kind for task in plan.tasks] == ["command", "command", "agent", "command"]
    assert topological_order(plan) == ["a", "b", "c", "d"]
    assert find_cycle(plan) is None


def test_order_respects_dependencies_not_file_order() -> None:
    plan = parse_plan(
        "name: x\ntasks:\n  - id: late\n    run: 'true'\n    depends_on: [early]\n"
        "  - id: early\n    run: 'true'\n"
    )
    assert topological_order(plan) == ["early", "late"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n  - id: b\n    run: x\n    depends_on: [zz]\n",
            "p.yaml:7: task 'b': depends_on names unknown task 'zz'",
        ),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n    depends_on: [b]\n"
            "  - id: b\n    run: x\n    depends_on: [a]\n",
            "task 'a': dependency cycle a -> b -> a",
        ),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n  - id: a\n    run: x\n",
            "p.yaml:5: task 'a': duplicate id",
        ),
        ("name: x\ntasks:\n  - id: a\n    files: [x]\n", "p.yaml:3: task 'a': a task needs either"),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n    prompt: hi\n",
            "task 'a': a task has either 'run' or 'prompt', not both",
        ),
        ("name: x\ntasks:\n  - id: a\n    run: echo\n    retries: lots\n", "p.yaml:5: task 'a': 'retries'"),
        ("name: x\ntasks:\n  - id: a\n    run: echo\n    colour: red\n", "p.yaml:5: task 'a': 'colour': unknown field"),
        ("name: x\ntasks: [\n", "p.yaml:3: YAML syntax error"),
        ("- just a list\n", "p.yaml:1: a plan is a mapping"),
        ("tasks:\n  - id: a\n    run: echo\n", "'name': required field is missing"),
        ("name: x\ntasks: []\n", "'tasks'"),
        ("name: x\ntasks:\n  - id: a\n    run: echo\n    depends_on: [a]\n", "depends on itself"),
        ("name: x\ntasks:\n  - id: 'bad id!'\n    run: echo\n", "task 'bad id!': 'id'"),
        ("name: x\ntasks:\n  - id: a\n    run: echo\n    files: [../out]\n", "stay inside"),
    ],
)
def test_invalid_plans_name_file_line_and_task(text: str, expected: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "p.yaml")
    message = str(info.value)
    assert expected in message
    assert message.startswith("p.yaml:")
    assert "\n" not in message


def test_three_task_cycle_is_reported() -> None:
    text = (
        "name: x\ntasks:\n"
        "  - id: a\n    run: 'true'\n    depends_on: [c]\n"
        "  - id: b\n    run: 'true'\n    depends_on: [a]\n"
        "  - id: c\n    run: 'true'\n    depends_on: [b]\n"
    )
    with pytest.raises(PlanError, match=r"dependency cycle a -> c -> b -> a"):
        parse_plan(text, "p.yaml")


def test_load_plan_errors_for_missing_directory_and_binary(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="plan file not found"):
        load_plan(tmp_path / "nope.yaml")
    with pytest.raises(PlanError, match="is a directory"):
        load_plan(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01name")
    with pytest.raises(PlanError, match="not a UTF-8 text file"):
        load_plan(binary)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo hacked']\ntasks: []\n")
    with pytest.raises(PlanError, match="YAML"):
        load_plan(path)


def test_json_schema_describes_tasks() -> None:
    schema = plan_json_schema()
    text = json.dumps(schema)
    assert schema["title"] == "BuildRunner plan"
    assert "depends_on" in text and "cost_limit_usd" in text


def test_plan_round_trips_through_json() -> None:
    plan = parse_plan(GOOD)
    from buildrunner.parallel.plan import Plan

    assert Plan.from_json(plan.to_json()) == plan
