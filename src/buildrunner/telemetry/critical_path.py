"""The critical path of a finished build: the chain of dependent tasks that took longest.

Each task weighs the time its attempts ran (retries included); the critical path is the heaviest
path through the plan's dependency graph (`depends_on`), as Bazel's critical path is over its
actions. No amount of workers makes a build shorter than this path, so it shows where speeding
up a task shortens the build. Ties go to the task earlier in the plan, so the path is stable.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CriticalPath:
    task_ids: tuple[str, ...]  # first to last
    length_s: float  # the sum of their busy times


def critical_path(
    order: Sequence[str], depends_on: Mapping[str, Sequence[str]], busy_s: Mapping[str, float]
) -> CriticalPath:
    """The heaviest dependency chain; `order` is the plan order (any order: it is sorted here)."""
    position = {task_id: index for index, task_id in enumerate(order)}
    best: dict[str, float] = {}  # heaviest chain ending with this task
    previous: dict[str, str | None] = {}
    for task_id in _topological(order, depends_on, position):
        parents = [dep for dep in depends_on.get(task_id, ()) if dep in best]
        parent = max(parents, key=lambda dep: (best[dep], -position[dep]), default=None)
        best[task_id] = (best[parent] if parent else 0.0) + max(busy_s.get(task_id, 0.0), 0.0)
        previous[task_id] = parent
    if not best or max(best.values()) <= 0:
        return CriticalPath((), 0.0)
    last: str | None = max(best, key=lambda task_id: (best[task_id], -position[task_id]))
    chain: list[str] = []
    while last is not None:
        chain.append(last)
        last = previous[last]
    chain.reverse()
    while chain and busy_s.get(chain[0], 0.0) <= 0:  # tasks that never ran are not on it
        chain.pop(0)
    return CriticalPath(tuple(chain), round(sum(busy_s.get(t, 0.0) for t in chain), 6))


def _topological(
    order: Sequence[str], depends_on: Mapping[str, Sequence[str]], position: Mapping[str, int]
) -> list[str]:
    """Kahn's algorithm, plan order among the ready tasks; unknown dependencies are ignored."""
    known = set(order)
    waiting = {task_id: {d for d in depends_on.get(task_id, ()) if d in known} for task_id in order}
    dependents: dict[str, list[str]] = {task_id: [] for task_id in order}
    for task_id, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(task_id)
    ready = [(position[t], t) for t, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    result: list[str] = []
    while ready:
        _, task_id = heapq.heappop(ready)
        result.append(task_id)
        for child in dependents[task_id]:
            waiting[child].discard(task_id)
            if not waiting[child]:
                heapq.heappush(ready, (position[child], child))
    return result
