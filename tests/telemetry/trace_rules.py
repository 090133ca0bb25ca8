"""The Trace Event Format's documented rules, checked on a trace (Perfetto's trace processor
cannot run offline here: its Python package downloads its binary on first use).

From the format's specification (JSON Object Format) and Perfetto's JSON importer notes:
- the file is an object with a `traceEvents` array; `displayTimeUnit` is "ms" or "ns";
- every event has a string `name` and `ph`, integer `pid` and `tid`, and (but metadata) a
  numeric `ts` in microseconds; `args`, when present, is an object;
- `X` (complete) events have a numeric `dur` >= 0;
- `i`/`I` (instant) events have scope `s` in g, p, t;
- `C` (counter) events carry numeric series values in `args`;
- `M` (metadata) events are process_name/process_labels/process_sort_index/thread_name/
  thread_sort_index, with `args.name` (a string) or `args.sort_index` (an integer);
- slices on one thread nest: a slice that starts inside another ends inside it too (Perfetto
  drops improperly nested slices and counts an import error).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

PHASES = {"X", "B", "E", "i", "I", "C", "M", "b", "e", "n", "s", "t", "f", "P", "O", "N", "D"}
METADATA = {
    "process_name",
    "process_labels",
    "process_sort_index",
    "thread_name",
    "thread_sort_index",
}
EPSILON_US = 1e-3


def check_trace(trace: Any) -> list[str]:
    """Every broken rule, as readable problems (empty: the trace follows the format)."""
    problems: list[str] = []
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["the trace is not an object with a traceEvents array"]
    if trace.get("displayTimeUnit", "ms") not in ("ms", "ns"):
        problems.append(f"displayTimeUnit {trace['displayTimeUnit']!r}")
    slices: dict[tuple[int, int], list[tuple[float, float, str]]] = defaultdict(list)
    for index, event in enumerate(trace["traceEvents"]):
        where = f"event {index} ({event.get('name')!r}, {event.get('ph')!r})"
        own = _check_event(event)
        problems += [f"{where}: {p}" for p in own]
        if event.get("ph") == "X" and not own:
            slices[(event["pid"], event["tid"])].append(
                (event["ts"], event["ts"] + event["dur"], event["name"])
            )
    for thread, spans in slices.items():
        problems += [f"thread {thread}: {p}" for p in _check_nesting(spans)]
    return problems


def _check_event(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["not an object"]
    problems = []
    phase = event.get("ph")
    if phase not in PHASES:
        problems.append(f"unknown phase {phase!r}")
    if not isinstance(event.get("name"), str):
        problems.append("name is not a string")
    for key in ("pid", "tid"):
        if not isinstance(event.get(key), int) or isinstance(event.get(key), bool):
            problems.append(f"{key} is not an integer")
    if phase != "M" and not _number(event.get("ts")):
        problems.append("ts is not a number")
    if "args" in event and not isinstance(event["args"], dict):
        problems.append("args is not an object")
    if phase == "X" and not (_number(event.get("dur")) and event["dur"] >= 0):
        problems.append("complete event without a dur >= 0")
    if phase in ("i", "I") and event.get("s", "t") not in ("g", "p", "t"):
        problems.append(f"instant scope {event.get('s')!r}")
    if phase == "C":
        values = event.get("args") or {}
        if not values or not all(_number(value) for value in values.values()):
            problems.append("counter without numeric values")
    if phase == "M":
        args = event.get("args") or {}
        if event.get("name") not in METADATA:
            problems.append("unknown metadata name")
        elif event["name"].endswith("sort_index"):
            if not isinstance(args.get("sort_index"), int):
                problems.append("sort_index is not an integer")
        elif not isinstance(args.get("name"), str):
            problems.append("metadata without a string args.name")
    return problems


def _check_nesting(spans: list[tuple[float, float, str]]) -> list[str]:
    problems = []
    open_spans: list[tuple[float, float, str]] = []
    for start, end, name in sorted(spans, key=lambda s: (s[0], -s[1])):
        while open_spans and open_spans[-1][1] <= start + EPSILON_US:
            open_spans.pop()
        if open_spans and end > open_spans[-1][1] + EPSILON_US:
            problems.append(
                f"{name!r} [{start}, {end}] overlaps {open_spans[-1][2]!r} "
                f"[{open_spans[-1][0]}, {open_spans[-1][1]}] without nesting"
            )
        open_spans.append((start, end, name))
    return problems


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
