"""`br cache why|ls|show|prune`: JSON on stdout, people's text on stderr, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.build.cache_helpers import (
    LIB_APP_PLAN,
    lib_app_project,
    make_cache,
    plan_of,
    run_plan,
    write,
)
from tests.conftest import run_br

PLAN = LIB_APP_PLAN


def cached_project(project: Path) -> None:
    write(project, "plan.yaml", PLAN)
    lib_app_project(project)
    run_plan(make_cache(project), plan_of(PLAN), project)


def test_ls_and_show(project: Path) -> None:
    cached_project(project)
    listed = run_br("cache", "ls", "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)["entries"]
    assert [entry["task_id"] for entry in entries] == ["lib", "app"]
    assert entries[0]["files"] == 1 and entries[0]["created_at"].endswith("Z")
    human = run_br("cache", "ls", cwd=project)
    assert human.stdout == "" and "lib" in human.stderr and entries[0]["key"][:12] in human.stderr
    one = run_br("cache", "ls", "--task", "app", "--json", cwd=project)
    assert [entry["task_id"] for entry in json.loads(one.stdout)["entries"]] == ["app"]
    shown = run_br("cache", "show", entries[0]["key"][:8], "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["key"] == entries[0]["key"]
    assert data["parts"]["inputs"].keys() == {"src/a.c", "src/b.c"}
    assert data["outputs"][0]["path"] == "lib.txt"
    text = run_br("cache", "show", entries[0]["key"], cwd=project)
    assert "input src/a.c" in text.stderr and "output lib.txt" in text.stderr


def test_why_names_what_changed(project: Path) -> None:
    cached_project(project)
    hit = run_br("cache", "why", "app", "--plan", "plan.yaml", "--json", cwd=project)
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)["cached"] is True
    write(project, "src/c.c", "int c;\n")
    lib = json.loads(
        run_br("cache", "why", "lib", "--plan", "plan.yaml", "--json", cwd=project).stdout
    )
    assert lib["cached"] is False
    assert [change["line"] for change in lib["changes"]] == ["input src/c.c added"]
    app = run_br("cache", "why", "app", "--plan", "plan.yaml", cwd=project)
    assert "app would run" in app.stderr and "dependency lib changed" in app.stderr


def test_why_finds_the_plan_of_the_last_run(project: Path) -> None:
    cached_project(project)
    ran = run_br("run", "plan.yaml", "--json", cwd=project)
    assert ran.returncode == 0, ran.stderr
    write(
        project,
        "plan.yaml",
        PLAN.replace("cat lib.txt main.c > app.txt", "cat main.c lib.txt > app.txt"),
    )
    result = run_br("cache", "why", "app", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    changes = json.loads(result.stdout)["changes"]
    assert changes[0]["kind"] == "command"
    assert changes[0]["diff"] == [
        "- cat lib.txt main.c > app.txt",
        "+ cat main.c lib.txt > app.txt",
    ]


def test_prune(project: Path) -> None:
    cached_project(project)
    result = run_br("cache", "prune", "--max-size", "0B", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["removed_entries"] == 2 and data["kept_entries"] == 0
    assert json.loads(run_br("cache", "ls", "--json", cwd=project).stdout)["entries"] == []
    human = run_br("cache", "prune", "--older-than", "30", cwd=project)
    assert human.returncode == 0 and "removed 0 entries" in human.stderr


def test_bad_input_is_one_line_and_exit_2(project: Path) -> None:
    cached_project(project)
    for args, message in [
        (("cache", "show", "xyz"), "is not a cache key"),
        (("cache", "show", "0000000"), "no cache entry with key 0000000"),
        (("cache", "prune", "--max-size", "lots"), "--max-size must be a size"),
        (("cache", "why", "nope", "--plan", "plan.yaml"), "has no task 'nope'"),
        (("cache", "why", "lib"), "give --plan PLAN"),
        (("cache", "why", "lib", "--plan", "missing.yaml"), "plan file not found"),
    ]:
        result = run_br(*args, cwd=project)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_sizes_take_units() -> None:
    from buildrunner.cli.cache import human_size, parse_size

    assert parse_size("500MB") == 500_000_000
    assert parse_size("2G") == 2_000_000_000
    assert parse_size("1.5 GiB") == 1_610_612_736
    assert parse_size("1000") == 1000
    assert [human_size(n) for n in (812, 4_200, 1_300_000_000)] == ["812 B", "4.2 kB", "1.3 GB"]


def test_a_bad_cache_folder_setting_is_one_line(project: Path) -> None:
    write(project, "plan.yaml", PLAN)
    lib_app_project(project)
    write(project, "blocker", "a file")
    result = run_br(
        "cache",
        "why",
        "lib",
        "--plan",
        "plan.yaml",
        cwd=project,
        env={"BR_CACHE_DIR": str(project / "blocker")},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("br: error: cache folder") and result.stderr.count("\n") == 1
