"""Every `$ br ...` example and every Python snippet in the guides runs, and every link resolves,
so the docs cannot rot.

Examples live in ```console blocks; each line starting with `$ br ` runs in a fresh temporary
project (one project per document, in order, so later examples see what earlier ones made).
A fenced block opened as ```yaml file=NAME (or any language) writes NAME into that project first.
An example exits 0, or 1 where EXITS_1 says so (findings, a failed gate or task: the table names
each such example and why), and never prints a traceback.
```python blocks run in that project too, in document order and in one namespace per document
(a later snippet sees the names an earlier one made, as in a notebook). In the guides named in
EXACT_OUTPUT, the lines that follow a `$ br ...` line in its block are what the command prints,
and must be exactly that. Relative links (`[text](FILE.md#anchor)`) must name a file that exists
and a heading it has.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import run_br

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
BLOCK = re.compile(r"```(\w+)(?: file=(\S+))?\n(.*?)```", re.DOTALL)
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def examples(path: Path) -> list[tuple[str, str, str]]:
    """('run', command, output shown below it), ('file', name, content) and ('python', code, '')
    steps in document order."""
    return steps_of(path.read_text(encoding="utf-8"))


def steps_of(text: str) -> list[tuple[str, str, str]]:
    steps: list[tuple[str, str, str]] = []
    for language, file_name, body in BLOCK.findall(text):
        if file_name:
            steps.append(("file", file_name, body))
        elif language == "python":
            steps.append(("python", body, ""))
        elif language == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    steps.append(("run", line[2:].strip(), ""))
                elif steps and steps[-1][0] == "run":
                    kind, command, shown = steps[-1]
                    steps[-1] = (kind, command, f"{shown}{line.rstrip()}\n")
    return [step for step in steps if step[0] != "run" or step[1].startswith("br ")]


def test_commands_are_paired_with_the_output_shown_below_them() -> None:
    text = "```console\n$ br a\none\ntwo\n$ br b\n```\n```jsonl file=x.jsonl\n{}\n```\n"
    assert steps_of(text) == [("run", "br a", "one\ntwo\n"), ("run", "br b", ""),
                              ("file", "x.jsonl", "{}\n")]  # fmt: skip


GUIDES = sorted(DOCS.glob("*.md"))

# (guide, command) -> why it exits 1. Every other example must exit 0.
EXITS_1: dict[tuple[str, str], str] = {}

# Guides whose shown output must be exactly what the command prints (at 100 columns), with how
# many examples show output at least (ROUTING.md: the `select` examples of issue 17 among them).
EXACT_OUTPUT = {"ROUTING.md": 5}


def test_guides_exist() -> None:
    names = {path.name for path in GUIDES}
    assert {"SECURITY.md", "ROUTING.md", "TELEMETRY.md", "PARALLEL.md", "ARCHITECTURE.md"} <= names


def _guide_params() -> list[object]:
    """A guide whose Python snippets start a Ray cluster runs with the Ray tests (one at a time)."""
    return [
        pytest.param(guide, marks=pytest.mark.ray)
        if 'backend="ray"' in guide.read_text()
        else guide
        for guide in GUIDES
    ]


@pytest.mark.parametrize("guide", _guide_params(), ids=lambda path: path.name)
def test_guide_examples_run(guide: Path, project: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{guide.stem.lower()}"}
    exact = guide.name in EXACT_OUTPUT
    checked = 0
    for step, command, content in examples(guide):
        if step == "file":
            target = project / command
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            continue
        if step == "python":
            try:
                exec(compile(command, f"{guide.name} (python block)", "exec"), namespace)
            except Exception as exc:
                pytest.fail(
                    f"{guide.name}: a Python snippet raised {type(exc).__name__}: {exc}\n{command}"
                )
            continue
        words = shlex.split(command)
        if "|" in words or ">" in words:
            pytest.fail(f"{guide.name}: keep examples to one command without pipes: {command}")
        result = run_br(*words[1:], cwd=project, env={"COLUMNS": "100"}, timeout=120)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, f"{guide.name}: {command}\n{output}"
        expected = 1 if (guide.name, command) in EXITS_1 else 0
        assert result.returncode == expected, (
            f"{guide.name}: {command} exited {result.returncode}, expected {expected}\n{output}"
        )
        if exact and content:
            printed = [line.rstrip() for line in (result.stderr + result.stdout).splitlines()]
            assert printed == content.splitlines(), (
                f"{guide.name} shows other output for: {command}"
            )
            checked += 1
    if exact:
        assert checked >= EXACT_OUTPUT[guide.name], f"{guide.name} lost its shown output"


def test_every_example_said_to_exit_1_is_in_its_guide() -> None:
    commands = {
        (guide.name, command)
        for guide in GUIDES
        for step, command, _ in examples(guide)
        if step == "run"
    }
    assert set(EXITS_1) <= commands, set(EXITS_1) - commands


DOCUMENTS = [*GUIDES, *(REPO / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md"))]


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = BLOCK.sub(
        "", path.read_text(encoding="utf-8")
    )  # headings inside code blocks do not count
    return {anchor(heading) for heading in HEADING.findall(text)}


@pytest.mark.parametrize(
    "document", [p for p in DOCUMENTS if p.exists()], ids=lambda path: path.name
)
def test_relative_links_resolve(document: Path) -> None:
    text = BLOCK.sub("", document.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, fragment = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no heading '{fragment}')")
    assert not broken, f"{document.name}: broken links: {', '.join(broken)}"


def test_the_link_check_finds_a_dead_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n[ok](#title) [gone](MISSING.md) [bad](#nowhere)\n")
    with pytest.raises(AssertionError, match=r"MISSING\.md \(no such file\).*#nowhere"):
        test_relative_links_resolve(page)
