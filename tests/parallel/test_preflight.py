"""Pre-flight checks: valid shell is never refused; a missing program or folder is, clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.errors import PlanError
from buildrunner.parallel.plan import parse_plan
from buildrunner.parallel.preflight import (
    check_commands,
    check_folders,
    first_program,
    plan_folder,
    preflight,
)
from tests.conftest import run_br, write_plan


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("pytest -q", "pytest"),
        ("pwd; ls", "pwd"),
        ("date;ls", "date"),
        ("ls|wc -l", "ls"),
        ("true&&echo ok", "true"),
        ("ls>out.txt", "ls"),
        ("A=1 B=2 make all", "make"),
        ("  python3 -c 'print(1)'", "python3"),
        ("./build.sh --fast", "./build.sh"),
        ("(cd . && ls)", None),
        ("!true", None),
        ("{ ls; }", None),
        ("if true; then ls; fi", None),
        ("$CC -o x x.c", None),
        ("'my tool' --flag", None),
        ("A='x y' make", None),
        ("~/bin/tool", None),
        ("*.sh", None),
        ("", None),
        ("A=1", None),
    ],
)
def test_first_program_reads_only_a_simple_command(command: str, program: str | None) -> None:
    assert first_program(command) == program


def _plan(*tasks: str) -> str:
    return "name: p\ntasks:\n" + "".join(tasks)


VALID_SHELL = ["pwd; ls", "date;ls", "ls|wc -l", "(cd . && ls)", "true&&echo ok", "!true"]


def test_valid_shell_is_never_refused(tmp_path: Path) -> None:
    tasks = [
        f"  - id: t{index}\n    run: {command!r}\n" for index, command in enumerate(VALID_SHELL)
    ]
    check_commands(parse_plan(_plan(*tasks)), tmp_path)


def test_valid_shell_runs_through_br(project: Path) -> None:
    # `!true` is left to the shell (dash says "!true: not found"); the others succeed
    runnable = [command for command in VALID_SHELL if command != "!true"]
    tasks = [f"  - id: t{index}\n    run: {command!r}\n" for index, command in enumerate(runnable)]
    write_plan(project, _plan(*tasks))
    result = run_br("run", "plan.yaml", "--json")
    assert result.returncode == 0, result.stderr


def test_a_missing_program_is_named(tmp_path: Path) -> None:
    plan = parse_plan(_plan("  - id: a\n    run: no-such-program-xyz --flag\n"))
    with pytest.raises(
        PlanError, match="task 'a': command 'no-such-program-xyz' not found on PATH"
    ):
        check_commands(plan, tmp_path)


def test_a_missing_script_is_named_when_nothing_runs_before(tmp_path: Path) -> None:
    plan = parse_plan(
        _plan(
            "  - id: a\n    run: ./missing.sh\n",
            "  - id: make\n    run: 'true'\n",
            "  - id: b\n    run: ./made-by-make.sh\n    depends_on: [make]\n",
        )
    )
    with pytest.raises(PlanError, match=r"task 'a': program '\./missing\.sh' does not exist"):
        check_commands(plan, tmp_path)
    (tmp_path / "missing.sh").write_text("#!/bin/sh\n")
    check_commands(plan, tmp_path)  # b's script may be created by the task it depends on


def test_a_megabyte_command_is_read_once(tmp_path: Path) -> None:
    # shlex.split of this line was still running after 8 s; the check reads the first word only
    command = "echo " + "x" * 1_000_000 + " ; " * 10_000
    plan = parse_plan(_plan(f"  - id: big\n    run: {command!r}\n"))
    check_commands(plan, tmp_path)
    assert first_program("y" * 1_000_000) == "y" * 1_000_000


def test_a_missing_cwd_says_the_directory_does_not_exist(tmp_path: Path) -> None:
    plan = parse_plan(_plan("  - id: a\n    run: ls\n    cwd: deeper\n"))
    with pytest.raises(
        PlanError, match=r"task 'a': cwd 'deeper': directory .*deeper does not exist"
    ):
        check_folders(plan, tmp_path)
    (tmp_path / "deeper").mkdir()
    check_folders(plan, tmp_path)


def test_a_cwd_made_by_an_earlier_task_is_allowed(tmp_path: Path) -> None:
    plan = parse_plan(
        _plan(
            "  - id: mk\n    run: mkdir -p build\n",
            "  - id: use\n    run: ls\n    cwd: build\n    depends_on: [mk]\n",
        )
    )
    preflight(plan, tmp_path)


def test_a_cwd_that_is_a_file_or_leads_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(PlanError, match="is not a directory"):
        check_folders(parse_plan(_plan("  - id: a\n    run: ls\n    cwd: file\n")), tmp_path)
    (tmp_path / "escape").symlink_to("/")
    with pytest.raises(PlanError, match="leads outside"):
        check_folders(parse_plan(_plan("  - id: a\n    run: ls\n    cwd: escape\n")), tmp_path)


def test_plan_folder_follows_workdir(tmp_path: Path) -> None:
    plan = parse_plan(
        _plan("  - id: a\n    run: ls\n").replace("name: p\n", "name: p\nworkdir: sub\n")
    )
    assert plan_folder(plan, tmp_path / "ci" / "plan.yaml") == tmp_path / "ci" / "sub"


def test_validate_reports_a_missing_cwd(project: Path) -> None:
    write_plan(project, _plan("  - id: a\n    run: ls\n    cwd: deeper\n"))
    result = run_br("plan", "validate", "plan.yaml")
    assert result.returncode == 2
    assert "cwd 'deeper'" in result.stderr and "does not exist" in result.stderr
    assert "/bin/sh" not in result.stderr


def test_run_reports_a_missing_cwd_before_starting(project: Path) -> None:
    write_plan(project, _plan("  - id: a\n    run: ls\n    cwd: deeper\n"))
    result = run_br("run", "plan.yaml")
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "command not found" not in result.stderr
