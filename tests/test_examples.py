"""The shipped example plans are valid and their routes can be shown without a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_br

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*/plan.yaml"))


def test_there_are_examples_with_agent_tasks() -> None:
    assert len(EXAMPLES) >= 2
    assert any("prompt:" in plan.read_text() for plan in EXAMPLES)


@pytest.mark.parametrize("plan", EXAMPLES, ids=lambda path: path.parent.name)
def test_example_validates_and_dry_runs(plan: Path, project: Path) -> None:
    assert run_br("plan", "validate", str(plan)).returncode == 0
    result = run_br("run", str(plan), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    for task in json.loads(result.stdout)["tasks"]:
        if task["kind"] == "agent":
            assert task["model"] and "error" not in task
            assert float(task["estimated_cost_usd"]) > 0
