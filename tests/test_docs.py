"""Every `$ br ...` example in the guides runs, so the docs cannot rot.

Examples live in ```console blocks; each line starting with `$ br ` runs in a fresh temporary
project (one project per document, in order, so later examples see what earlier ones made).
A fenced block opened as ```yaml file=NAME (or any language) writes NAME into that project first.
An example exits 0, or 1 where EXITS_1 says so (findings, a failed gate or task: the table names
each such example and why), and never prints a traceback.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import run_br

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```(\w+)(?: file=(\S+))?\n(.*?)```", re.DOTALL)


def examples(path: Path) -> list[tuple[str, str, str]]:
    """('run', command, '') and ('file', name, content) steps in document order."""
    steps: list[tuple[str, str, str]] = []
    for language, file_name, body in BLOCK.findall(path.read_text(encoding="utf-8")):
        if file_name:
            steps.append(("file", file_name, body))
        elif language == "console":
            steps.extend(
                ("run", line[2:].strip(), "") for line in body.splitlines() if line.startswith("$ br ")
            )
    return steps


GUIDES = sorted(DOCS.glob("*.md"))

# (guide, command) -> why it exits 1. Every other example must exit 0.
EXITS_1: dict[tuple[str, str], str] = {
}


def test_guides_exist() -> None:
    names = {path.name for path in GUIDES}
    assert {"SECURITY.md", "ROUTING.md", "TELEMETRY.md", "PARALLEL.md", "ARCHITECTURE.md"} <= names


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_guide_examples_run(guide: Path, project: Path) -> None:
    for step, command, content in examples(guide):
        if step == "file":
            target = project / command
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            continue
        words = shlex.split(command)
        if "|" in words or ">" in words:
            pytest.fail(f"{guide.name}: keep examples to one command without pipes: {command}")
        result = run_br(*words[1:], cwd=project, timeout=120)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, f"{guide.name}: {command}\n{output}"
        expected = 1 if (guide.name, command) in EXITS_1 else 0
        assert result.returncode == expected, (
            f"{guide.name}: {command} exited {result.returncode}, expected {expected}\n{output}")


def test_every_example_said_to_exit_1_is_in_its_guide() -> None:
    commands = {(guide.name, command) for guide in GUIDES
                for step, command, _ in examples(guide) if step == "run"}
    assert set(EXITS_1) <= commands, set(EXITS_1) - commands
