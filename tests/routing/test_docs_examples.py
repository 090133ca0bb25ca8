"""docs/ROUTING.md shows what `br routing` prints: every `$ br ...` line of a console block that is
followed by output lines must print exactly those lines (tests/test_docs.py runs every example;
this one also holds the documented output to the real command's)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import run_br

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "ROUTING.md"
BLOCK = re.compile(r"```(\w+)(?: file=(\S+))?\n(.*?)```", re.DOTALL)


def steps(text: str) -> list[tuple[str, str, list[str]]]:
    """('file', name, [content]) and ('run', command, [expected output lines]) in document order."""
    found: list[tuple[str, str, list[str]]] = []
    for language, file_name, body in BLOCK.findall(text):
        if file_name:
            found.append(("file", file_name, [body]))
        elif language == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    found.append(("run", line[2:].strip(), []))
                elif found and found[-1][0] == "run":
                    found[-1][2].append(line.rstrip())
    return found


def test_the_parser_pairs_commands_with_their_output() -> None:
    text = "```console\n$ br a\none\ntwo\n$ br b\n```\n```jsonl file=x.jsonl\n{}\n```\n"
    assert steps(text) == [
        ("run", "br a", ["one", "two"]),
        ("run", "br b", []),
        ("file", "x.jsonl", ["{}\n"]),
    ]


def test_documented_routing_output_is_what_br_prints(project: Path) -> None:
    checked = 0
    for kind, name, payload in steps(GUIDE.read_text(encoding="utf-8")):
        if kind == "file":
            (project / name).write_text(payload[0], encoding="utf-8")
            continue
        words = shlex.split(name)
        result = run_br(*words[1:], cwd=project, env={"COLUMNS": "100"}, timeout=120)
        assert result.returncode in (0, 1), f"{name}\n{result.stderr}"
        if not payload:
            continue
        printed = [line.rstrip() for line in (result.stderr + result.stdout).splitlines()]
        assert printed == payload, f"docs/ROUTING.md shows other output for: {name}"
        checked += 1
    assert checked >= 5  # the select examples (issue 17: "Add user authentication") are covered
    if checked < 5:
        pytest.fail("the documented select examples lost their output")
