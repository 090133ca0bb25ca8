from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.plan_scale import chain
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
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n    retries: lots\n",
            "p.yaml:5: task 'a': 'retries'",
        ),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n    colour: red\n",
            "p.yaml:5: task 'a': 'colour': unknown field",
        ),
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


# -- hardening: what the YAML loader refuses, with the line ----------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # a second `tasks:` silently replaced the first list before
            "name: x\ntasks:\n  - id: a\n    run: echo\ntasks:\n  - id: b\n    run: echo\n",
            "p.yaml:5: duplicate key 'tasks' (first on line 2)",
        ),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n    run: ls\n",
            "p.yaml:5: duplicate key 'run' (first on line 4)",
        ),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n    env: {A: '1', A: '2'}\n",
            "p.yaml:5: duplicate key 'A' (first on line 5)",
        ),
        ("name: x\nname: y\ntasks: []\n", "p.yaml:2: duplicate key 'name'"),
        (
            "name: x\ntasks:\n  - id: a\n    run: echo\n---\nname: y\n",
            "p.yaml:5: a plan file holds one YAML document",
        ),
        ("name: !!python/name:os.system x\ntasks: []\n", "p.yaml:1: unsupported YAML tag"),
        ("name: x\ntasks: !!set {a, b}\n", "p.yaml:2: unsupported YAML tag"),
        ('name: x\ntasks:\n  - id: a\n    run: "echo \\0"\n', "p.yaml:4: text holds a NUL byte"),
        (
            'name: x\ntasks:\n  - id: a\n    run: echo\n    cwd: "a\\x00b"\n',
            "p.yaml:5: text holds a NUL byte",
        ),
    ],
)
def test_the_loader_refuses_with_the_line(text: str, expected: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "p.yaml")
    assert expected in str(info.value)


@pytest.mark.parametrize("loader", ["libyaml", "python"])
@pytest.mark.parametrize("style", ["block", "flow"])
def test_deep_nesting_is_refused_without_recursion(
    style: str, loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from buildrunner.parallel import plan_yaml

    if loader == "python":
        monkeypatch.setattr(plan_yaml, "_Loader", yaml.SafeLoader)
    depth = 1000
    if style == "flow":
        body = "[" * depth + "]" * depth
    else:
        body = "".join(f"\n{'  ' * (level + 1)}k{level}:" for level in range(depth)) + " end"
    with pytest.raises(PlanError) as info:
        parse_plan(f"name: x\ntasks: {body}\n", "p.yaml")
    assert "nest" in str(info.value)


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    text = "\n".join(lines) + "\nname: x\ntasks: *a7\n"
    with pytest.raises(PlanError, match="YAML bomb"):
        parse_plan(text, "p.yaml")


def test_anchors_and_merge_keys_still_work() -> None:
    plan = parse_plan(
        "name: x\ntasks:\n"
        "  - &first\n    id: a\n    run: echo a\n    retries: 2\n"
        "  - <<: *first\n    id: b\n    depends_on: [a]\n"
    )
    assert [task.id for task in plan.tasks] == ["a", "b"]
    assert plan.task("b").run == "echo a" and plan.task("b").retries == 2


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("timeout_s", ".inf", "finite number"),
        ("timeout_s", ".nan", "finite number"),
        ("timeout_s", "1e12", "less than or equal"),
        ("priority", "99999999999999999999999", "less than or equal"),
        ("cost_limit_usd", "1e400", "finite number"),
        ("cpus", "1e9", "less than or equal"),
        ("max_turns", "10000000000", "less than or equal"),
        ("cwd", "/", "must be relative to the project"),
        ("cwd", "../..", "must be relative to the project"),
        ("cwd", "''", "must not be empty"),
        ("env", "{'A B': x}", "not an environment variable name"),
        ("resources", "{gpu: 1e30}", "resource 'gpu'"),
    ],
)
def test_numbers_and_paths_outside_their_range_are_refused(
    field: str, value: str, expected: str
) -> None:
    text = f"name: x\ntasks:\n  - id: a\n    run: echo\n    {field}: {value}\n"
    with pytest.raises(PlanError) as info:
        parse_plan(text, "p.yaml")
    message = str(info.value)
    assert message.startswith(f"p.yaml:5: task 'a': '{field}"), message
    assert expected in message and "\n" not in message


def test_plan_level_numbers_are_bounded_too() -> None:
    with pytest.raises(PlanError, match="'budget_usd': must be a finite number"):
        parse_plan("name: x\nbudget_usd: .inf\ntasks:\n  - id: a\n    run: echo\n", "p.yaml")


def test_non_regular_and_oversized_files_are_refused(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(PlanError, match="not a regular file"):
        load_plan(fifo)
    with pytest.raises(PlanError, match="not a regular file"):
        load_plan(Path("/dev/zero"))
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(6_000_000)
    with pytest.raises(PlanError, match="larger than"):
        load_plan(big)


def test_a_damaged_stored_plan_is_one_line() -> None:
    from buildrunner.parallel.plan import Plan

    for text in ("{", "null", '{"name": "x", "tasks": [{"id": 1}]}'):
        with pytest.raises(PlanError, match="stored plan is damaged") as info:
            Plan.from_json(text)
        assert "\n" not in str(info.value)


def test_a_10k_task_chain_orders_without_recursion() -> None:
    plan = parse_plan(chain(10_000))
    order = topological_order(plan)
    assert order[:3] == ["t0", "t1", "t2"] and order[-1] == "t9999" and len(order) == 10_000
    assert find_cycle(plan) is None


def test_a_cycle_at_the_end_of_a_long_chain_is_found() -> None:
    text = chain(5_000).replace(
        "name: chain\ntasks:\n  - id: t0\n    run: echo 0\n",
        "name: chain\ntasks:\n  - id: t0\n    run: echo 0\n    depends_on: [t4999]\n",
    )
    with pytest.raises(PlanError, match=r"dependency cycle t0 -> t4999 -> t4998"):
        parse_plan(text, "p.yaml")


def test_waves_keep_plan_order_among_equals() -> None:
    plan = parse_plan(
        "name: w\ntasks:\n"
        "  - id: z\n    run: 'true'\n    depends_on: [a]\n"
        "  - id: a\n    run: 'true'\n"
        "  - id: y\n    run: 'true'\n"
        "  - id: x\n    run: 'true'\n    depends_on: [z, y]\n"
        "  - id: b\n    run: 'true'\n    depends_on: [a]\n"
    )
    assert topological_order(plan) == ["a", "y", "z", "b", "x"]
