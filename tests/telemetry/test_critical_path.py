"""The critical path: the heaviest chain of dependent tasks."""

from __future__ import annotations

from buildrunner.telemetry.critical_path import critical_path


def test_the_heaviest_chain_wins_over_the_longest_one() -> None:
    order = ["a", "b", "c", "d", "e"]
    depends = {"b": ["a"], "c": ["b"], "e": ["d"]}
    path = critical_path(order, depends, {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2})
    assert (path.task_ids, path.length_s) == (("d", "e"), 4)


def test_a_join_follows_its_heaviest_parent_and_ties_go_to_plan_order() -> None:
    order = ["x", "y", "z", "join"]
    depends = {"join": ["z", "y", "x"]}
    assert critical_path(order, depends, {"x": 2, "y": 3, "z": 1, "join": 1}).task_ids == (
        "y",
        "join",
    )
    assert critical_path(order, depends, {"x": 3, "y": 3, "z": 1, "join": 1}).task_ids == (
        "x",
        "join",
    )


def test_tasks_that_never_ran_are_not_on_the_path() -> None:
    order = ["skipped", "ran", "idle"]
    path = critical_path(order, {"ran": ["skipped"]}, {"ran": 5.0})
    assert (path.task_ids, path.length_s) == (("ran",), 5.0)
    assert critical_path(order, {}, {}).task_ids == ()


def test_plan_order_need_not_be_topological() -> None:
    order = ["last", "first"]
    path = critical_path(
        order, {"last": ["first"], "first": ["missing"]}, {"first": 1.5, "last": 2.5}
    )
    assert (path.task_ids, path.length_s) == (("first", "last"), 4.0)
