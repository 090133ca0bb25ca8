"""Plan errors as users read them: one line naming the file, the line, the task and the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from buildrunner.errors import PlanError
from buildrunner.parallel.plan_graph import Node, find_cycle
from buildrunner.parallel.plan_yaml import LineIndex


def _task_label(data: dict[str, Any], index: int) -> str:
    tasks = data.get("tasks")
    if isinstance(tasks, list) and index < len(tasks) and isinstance(tasks[index], dict):
        task_id = tasks[index].get("id")
        if task_id is not None:
            return f"task '{task_id}'"
    return f"task #{index + 1}"


def _where(data: dict[str, Any], loc: list[Any]) -> str:
    """`task 'x': 'field': ` (or `'field': `) for an error at `loc`."""
    where = ""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        where = _task_label(data, loc[1]) + ": "
        field = ".".join(str(p) for p in loc[2:])
    else:
        field = ".".join(str(p) for p in loc)
    return where + (f"'{field}': " if field else "")


def describe_validation(
    exc: ValidationError, data: dict[str, Any], lines: LineIndex, source: str
) -> str:
    error = exc.errors()[0]
    loc = [
        part
        for part in error["loc"]
        if not (isinstance(part, str) and part.startswith("function-"))
    ]
    line = lines.line_of(data, loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "finite_number":
        message = "must be a finite number (not .inf or .nan)"
    extra = len(exc.errors()) - 1
    more = f" (and {extra} more error{'s' if extra > 1 else ''})" if extra else ""
    return f"{source}:{line}: {_where(data, loc)}{message}{more}"


def check_graph(tasks: Sequence[Node], data: dict[str, Any], lines: LineIndex, source: str) -> None:
    """Raise PlanError for a duplicate id, an unknown or self dependency, or a cycle."""
    seen: dict[str, int] = {}
    for index, task in enumerate(tasks):
        if task.id in seen:
            line = lines.line_of(data, ["tasks", index, "id"])
            raise PlanError(
                f"{source}:{line}: task '{task.id}': duplicate id "
                f"(first defined as task #{seen[task.id] + 1})"
            )
        seen[task.id] = index
    for index, task in enumerate(tasks):
        for dep_index, dep in enumerate(task.depends_on):
            if dep not in seen:
                line = lines.line_of(data, ["tasks", index, "depends_on", dep_index])
                raise PlanError(
                    f"{source}:{line}: task '{task.id}': depends_on names unknown task '{dep}'"
                )
            if dep == task.id:
                line = lines.line_of(data, ["tasks", index, "depends_on", dep_index])
                raise PlanError(f"{source}:{line}: task '{task.id}': depends on itself")
    cycle = find_cycle(tasks)
    if cycle:
        index = seen[cycle[0]]
        line = lines.line_of(data, ["tasks", index, "depends_on"])
        raise PlanError(
            f"{source}:{line}: task '{cycle[0]}': dependency cycle {' -> '.join(cycle)}"
        )
