"""Ref names for any task id, and the journal that survives a restart."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildrunner.build.git import IsolationError
from buildrunner.build.isolation_state import (
    SessionState,
    TaskRecord,
    load_state,
    ref_component,
    save_state,
    task_branch,
)
from buildrunner.parallel.plan import TASK_ID

# task ids as the plan allows them: letters, digits, '_', '.', ':' and '-'
TASK_IDS = st.from_regex(TASK_ID, fullmatch=True)


def valid_branch(name: str) -> bool:
    return (
        subprocess.run(
            ["git", "check-ref-format", "--branch", name], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    "task_id",
    ["build", "a.b", ".hidden", "x..y", "end.", "db.lock", "ns:task", "a...b", "v1.2", "%"],
)
def test_awkward_task_ids_make_valid_distinct_branches(task_id: str) -> None:
    branch = task_branch("20261125-134501-a1b2c3", task_id)
    assert valid_branch(branch), branch
    assert unquote(ref_component(task_id)) == task_id


@settings(max_examples=25, deadline=None)
@given(TASK_IDS, TASK_IDS)
def test_every_plan_task_id_gives_a_valid_branch_and_distinct_ids_stay_distinct(
    first: str, second: str
) -> None:
    assert valid_branch(task_branch("s", first))
    assert (ref_component(first) == ref_component(second)) == (first == second)


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(IsolationError):
        ref_component("")


def test_the_journal_round_trips_and_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    state = SessionState("s", str(tmp_path), snapshot="abc", head=None)
    state.tasks["t"] = TaskRecord(
        "t", "br/s/t", str(tmp_path / "wt"), "abc", state="committed", commit="def", files=["a.txt"]
    )
    save_state(tmp_path, state)
    assert load_state(tmp_path, "s", tmp_path) == state
    assert load_state(tmp_path, "other", tmp_path).tasks == {}
    (tmp_path / "isolation" / "s" / "state.json").write_text("{not json")
    with pytest.raises(IsolationError, match="cannot read the isolation journal"):
        load_state(tmp_path, "s", tmp_path)
