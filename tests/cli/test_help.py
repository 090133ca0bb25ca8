"""Every command has help and runnable examples; the examples are true; docs/CLI.md lists them.

The examples live in each command's docstring (the single source). This test walks the real
command tree: every example must parse against the command it names, and every one that can run
in a scratch project (not a server, not one waiting on a live session) runs there and exits 0 or 1.
docs/CLI.md is generated from the same help (`python -m tests.cli.test_help` rewrites it), so
every command has an example in the docs too.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer import _click as click  # typer ships its own copy of Click

from buildrunner.cli.main import app
from tests.conftest import run_br
from tests.fuzzing import invoke

REPO = Path(__file__).resolve().parents[2]
CLI_DOC = REPO / "docs" / "CLI.md"
NOT_RUN = {  # examples that parse but cannot run in a scratch project, and why
    "br telemetry serve --port 9464": "a server: runs until Ctrl-C",
    "br parallel dashboard": "a live view: runs until Ctrl-C",
    "br parallel pause nightly": "needs a session that is running",
    "br parallel resume nightly": "needs a session that is paused or interrupted",
    "br parallel cancel nightly --yes": "needs a session that is running",
    "br cache why tests": "needs an earlier run of a plan with a task 'tests'",
    "br cache why tests --plan plan.yaml --json": "needs an earlier run of a plan with a task 'tests'",
    "br cache show 3f9a": "needs a cache entry",
    "br cache show 3f9a --json": "needs a cache entry",
    "br report": "needs a session to report on",
    "br review approve add-auth": "needs a task waiting for review",
    "br review approve add-auth --json": "needs a task waiting for review",
    "br review reject add-auth --reason 'keeps the old token format'": "needs a task waiting for review",
    "br review reject add-auth --reason 'also update the docs' --retry": "needs a task waiting for review",
    "br report -o build-report.html": "needs a session to report on",
}


def commands() -> list[tuple[str, Any]]:
    """(path, click command) of every leaf command, in help order."""
    root = typer.main.get_command(app)
    context = click.core.Context(root)
    found: list[tuple[str, Any]] = []

    def walk(group: Any, path: list[str]) -> None:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if hasattr(command, "list_commands"):
                walk(command, [*path, name])
            else:
                found.append((" ".join([*path, name]), command))

    walk(root, [])
    return found


def examples(command: Any) -> list[str]:
    """The `br ...` lines of a command's Examples block."""
    lines = (command.help or "").split("Examples:", 1)
    if len(lines) < 2:
        return []
    return [line.strip() for line in lines[1].splitlines() if line.strip().startswith("br ")]


COMMANDS = commands()


def test_every_command_has_help_and_examples() -> None:
    missing = [
        path
        for path, command in COMMANDS
        if not (command.help or "").strip() or not examples(command)
    ]
    assert not missing, f"commands without help or examples: {missing}"
    assert len(COMMANDS) >= 40


def _words(example: str) -> list[str]:
    """An example's arguments, without the shell redirections around it."""
    words = shlex.split(example)[1:]
    for index, word in enumerate(words):
        if word in (">", "<", "|"):
            return words[:index]
    return words


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_examples_parse_against_the_real_command(path: str, command: Any) -> None:
    depth = len(path.split())
    for example in examples(command):
        words = _words(example)
        assert " ".join(words[:depth]) == path, f"{example!r} is not an example of 'br {path}'"
        try:
            command.make_context(f"br {path}", words[depth:])
        except click.exceptions.ClickException as exc:
            pytest.fail(f"'{example}' does not parse: {exc.format_message()}")


def test_the_examples_run(project: Path) -> None:
    """Each runnable example, in this process (the real entry point, a hang alarm per example)."""
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "plan.yaml").write_text(
        "name: nightly\ntasks:\n  - id: a\n    run: echo a\n  - id: b\n    run: echo b\n"
        "    depends_on: [a]\n"
    )
    (project / "tasks.jsonl").write_text('{"id": "t1", "text": "Fix a typo in the README"}\n')
    (project / "build.log").write_text("all good\n")
    (project / "src").mkdir()
    run_br("run", "plan.yaml", cwd=project).assert_success()
    ran = 0
    for _, command in COMMANDS:
        for example in examples(command):
            words = _words(example)
            if example in NOT_RUN or any(word.isupper() for word in words):
                continue  # NOT_RUN, or a placeholder (SESSION): parsed above, not run
            if "<" in shlex.split(example):
                continue  # reads stdin: the in-process run has none to give
            outcome = invoke(words)
            text = outcome.stdout + outcome.stderr
            assert outcome.code in (0, 1), f"{example}: exit {outcome.code}\n{text[-2000:]}"
            assert "Traceback" not in text, f"{example}\n{text[-2000:]}"
            ran += 1
    assert ran >= 50


def render_cli_doc() -> str:
    """docs/CLI.md: every command with its one-line help and its examples."""
    out = [
        "# Command reference",
        "",
        "Every `br` command with what it does and examples; generated from the commands' own help",
        "(`python -m tests.cli.test_help` rewrites this file, and `tests/cli/test_help.py` fails when",
        "it is out of date and checks that every example parses and runs). `br COMMAND --help` shows",
        "every option. Exit codes: 0 success, 1 findings / failed gate / failed tasks, 2 bad usage or",
        "bad input, 3 a bug in br (with a crash report), 130 interrupted.",
        "",
    ]
    group = None
    for path, command in COMMANDS:
        top = path.split()[0]
        if top != group:
            group = top
            out += [f"## br {top}", ""]
        out += [f"### br {path}", "", command.get_short_help_str(limit=200), "", "```text"]
        out += [f"$ {example}" for example in examples(command)]
        out += ["```", ""]
    return "\n".join(out).rstrip() + "\n"


def test_the_command_reference_is_up_to_date() -> None:
    assert CLI_DOC.read_text(encoding="utf-8") == render_cli_doc(), (
        "docs/CLI.md is out of date: run `python -m tests.cli.test_help`"
    )


if __name__ == "__main__":
    CLI_DOC.write_text(render_cli_doc(), encoding="utf-8")
    sys.stdout.write(f"wrote {CLI_DOC}\n")
