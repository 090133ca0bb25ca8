"""The dependency graph of a plan's tasks: order, cycles, dependents; each linear in its size.

Works on anything with `id` and `depends_on` (a plan's TaskSpecs), so the plan model imports this
module and not the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Node(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def depends_on(self) -> list[str]: ...


def dependents(tasks: Sequence[Node]) -> dict[str, list[str]]:
    """For each task id, the ids of the tasks that depend on it directly (each once)."""
    result: dict[str, list[str]] = {task.id: [] for task in tasks}
    for task in tasks:
        for dep in dict.fromkeys(task.depends_on):
            result[dep].append(task.id)
    return result


def find_cycle(tasks: Sequence[Node]) -> list[str] | None:
    """A dependency cycle as a list of ids (the first repeated at the end), or None.

    Iterative depth-first search: O(tasks + dependencies), no recursion limit.
    """
    deps = {task.id: task.depends_on for task in tasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in deps:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        on_path: dict[str, int] = {start: 0}  # id -> position in the current path
        path: list[str] = [start]
        state[start] = 1
        while stack:
            node, next_index = stack[-1]
            children = deps.get(node, [])
            if next_index < len(children):
                stack[-1] = (node, next_index + 1)
                child = children[next_index]
                if state.get(child) == 1:
                    return [*path[on_path[child] :], child]
                if not state.get(child) and child in deps:
                    state[child] = 1
                    on_path[child] = len(path)
                    stack.append((child, 0))
                    path.append(child)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
                del on_path[node]
    return None


def topological_order(tasks: Sequence[Node]) -> list[str]:
    """Task ids so that each comes after its dependencies, in waves, plan order within a wave.

    A task's wave is one more than the deepest of its dependencies' (tasks without dependencies
    are wave 0). Kahn's algorithm computes the waves in O(tasks + dependencies); raises
    ValueError on a cycle.
    """
    position = {task.id: index for index, task in enumerate(tasks)}
    unmet = {task.id: len(set(task.depends_on)) for task in tasks}
    children = dependents(tasks)
    wave = dict.fromkeys(position, 0)
    ready = [task.id for task in tasks if unmet[task.id] == 0]
    seen = 0
    while ready:
        task_id = ready.pop()
        seen += 1
        for child in children[task_id]:
            wave[child] = max(wave[child], wave[task_id] + 1)
            unmet[child] -= 1
            if unmet[child] == 0:
                ready.append(child)
    if seen != len(position):
        raise ValueError("dependency cycle")
    return sorted(position, key=lambda task_id: (wave[task_id], position[task_id]))
