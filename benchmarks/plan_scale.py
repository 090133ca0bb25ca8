"""Validating and ordering big plans: a 10,000-task chain and 10,000 independent tasks.

usage: nice -n 10 .venv/bin/python benchmarks/plan_scale.py [--tasks N]

Our figure is `parse_plan` (YAML to a validated Plan: duplicate keys, ranges, ids, dependencies,
cycles) plus `topological_order`, in CPU seconds. Beside it, the peers: PyYAML's own C loader
alone (`yaml.load(text, CSafeLoader)`: parsing only, no checks) and the standard library's
`graphlib.TopologicalSorter` on the same graph (ordering only). Issue 21 measured 20.6 s to
validate the chain before the loader and the ordering were made linear.
"""

from __future__ import annotations

import argparse
import graphlib
import time
from collections.abc import Callable
from typing import Any

import yaml

from buildrunner.parallel.plan import parse_plan, topological_order


def chain(count: int) -> str:
    lines = ["name: chain", "tasks:"]
    for index in range(count):
        lines.append(f"  - id: t{index}\n    run: echo {index}")
        if index:
            lines.append(f"    depends_on: [t{index - 1}]")
    return "\n".join(lines) + "\n"


def independent(count: int) -> str:
    return "name: wide\ntasks:\n" + "".join(
        f"  - id: t{i}\n    run: echo {i}\n" for i in range(count)
    )


def cpu(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(CPU seconds, result) of one call: CPU time, so other processes on the machine matter less."""
    start = time.process_time()
    result = function(*args)
    return time.process_time() - start, result


def validate_and_order(text: str) -> list[str]:
    return topological_order(parse_plan(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    count = parser.parse_args().tasks
    print(
        f"{'plan':24} {'br validate+order':>18} {'PyYAML C load only':>19} {'graphlib order':>15}"
    )
    plans = ((f"{count}-task chain", chain(count)), (f"{count} independent", independent(count)))
    for label, text in plans:
        ours, _ = cpu(validate_and_order, text)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        load, data = cpu(yaml.load, text, loader)
        graph = {task["id"]: task.get("depends_on", []) for task in data["tasks"]}
        order, _ = cpu(lambda g: list(graphlib.TopologicalSorter(g).static_order()), graph)
        print(f"{label:24} {ours:17.3f}s {load:18.3f}s {order:14.3f}s")


if __name__ == "__main__":
    main()
