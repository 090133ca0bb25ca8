"""Explaining misses: which input, env variable, dependency or prompt line changed."""

from __future__ import annotations

import json
from pathlib import Path

from buildrunner.build.cache import TaskCache
from buildrunner.build.cache_explain import Change, explain_miss, render_changes
from buildrunner.parallel.plan import Plan
from tests.build.cache_helpers import (
    LIB_APP_PLAN,
    lib_app_project,
    make_cache,
    plan_of,
    run_plan,
    write,
)
from tests.security.tokens import TokenFactory

PLAN = LIB_APP_PLAN


def stored_plan(root: Path, environ: dict[str, str] | None = None) -> TaskCache:
    lib_app_project(root)
    cache = make_cache(root, environ=environ or {"TARGET": "x86"})
    run_plan(cache, plan_of(PLAN), root)
    return cache


def why(cache: TaskCache, plan: Plan, root: Path, task_id: str) -> list[Change]:
    return cache.why(plan.task(task_id), plan=plan, workdir=root)


def test_a_hit_has_no_changes(tmp_path: Path) -> None:
    cache = stored_plan(tmp_path)
    assert why(cache, plan_of(PLAN), tmp_path, "app") == []
    assert explain_miss([]) == "unchanged"


def test_input_and_dependency_changes_are_named(tmp_path: Path) -> None:
    cache = stored_plan(tmp_path)
    write(tmp_path, "src/b.c", "int b2;\n")
    write(tmp_path, "src/c.c", "int c;\n")
    plan = plan_of(PLAN)
    lib = why(cache, plan, tmp_path, "lib")
    assert [change.line() for change in lib] == ["input src/b.c changed", "input src/c.c added"]
    app = why(cache, plan, tmp_path, "app")
    assert [change.line() for change in app] == ["dependency lib changed"]
    assert explain_miss(lib) == "input src/b.c changed (+1 more)"
    assert explain_miss(app) == "dependency lib changed"


def test_env_changes_name_the_variable_never_the_value(tmp_path: Path) -> None:
    secret = TokenFactory(seed=3).github()
    cache = stored_plan(tmp_path, environ={"TARGET": secret})
    other = make_cache(tmp_path, environ={"TARGET": secret + "x"})
    changes = why(other, plan_of(PLAN.replace('"fast"', '"slow"')), tmp_path, "app")
    lines = [change.line() for change in changes]
    # TARGET is in the plan's cache_env: `lib` changed with it, so `app` names that too
    assert lines == ["env MODE changed", "env TARGET changed", "dependency lib changed"]
    stored = json.dumps(
        [row[0] for row in cache.conn.execute("SELECT manifest_json FROM task_cache")]
    )
    assert secret not in stored and "fast" not in stored
    manifests = "".join(
        path.read_text() for path in (tmp_path / ".buildrunner/cache/manifests").rglob("*.json")
    )
    assert secret not in manifests and "TARGET" in manifests


def test_command_changes_show_a_line_diff(tmp_path: Path) -> None:
    cache = stored_plan(tmp_path)
    plan = plan_of(PLAN.replace("cat lib.txt main.c > app.txt", "cat lib.txt main.c >> app.txt"))
    changes = why(cache, plan, tmp_path, "app")
    assert changes[0].kind == "command" and changes[0].detail == "changed (line 1)"
    assert changes[0].diff == ("- cat lib.txt main.c > app.txt", "+ cat lib.txt main.c >> app.txt")
    assert render_changes(changes)[:3] == [
        "command changed (line 1)",
        "    - cat lib.txt main.c > app.txt",
        "    + cat lib.txt main.c >> app.txt",
    ]


AGENT = """
name: agent
tasks:
  - id: write-docs
    prompt: |
      Write docs/API.md from the docstrings.
      Use the token {token} to publish.
      Keep it short.
    files: [docs/API.md]
    check: test -s docs/API.md
"""


def test_prompt_changes_show_the_changed_lines_masked(tmp_path: Path) -> None:
    factory = TokenFactory(seed=4)
    old_token, new_token = factory.github(), factory.github()
    cache = make_cache(tmp_path)
    plan = plan_of(AGENT.format(token=old_token))
    key = cache.key(plan.task("write-docs"), plan=plan, workdir=tmp_path, route=["haiku", "sonnet"])
    assert key is not None
    assert cache.store(
        key, workdir=tmp_path, log_path=None, cost_usd="0.10", duration_s=9, session_id="s"
    ).stored
    assert old_token not in cache.conn.execute("SELECT manifest_json FROM task_cache").fetchone()[0]
    edited = plan_of(AGENT.format(token=new_token).replace("Keep it short.", "Keep it very short."))
    changes = cache.why(edited.task("write-docs"), plan=edited, workdir=tmp_path)
    assert [change.kind for change in changes] == ["prompt"]
    assert changes[0].detail == "changed (lines 2, 3)"
    diff = "\n".join(changes[0].diff)
    assert old_token not in diff and new_token not in diff
    assert "- Keep it short." in diff and "+ Keep it very short." in diff
    assert f"{new_token[:4]}…{new_token[-4:]}" in diff
    # the route of the last cached run is kept by `why`; a new route is a change
    rerouted = cache.why(edited.task("write-docs"), plan=edited, workdir=tmp_path, route=["opus"])
    assert rerouted[1].line() == "route changed (haiku, sonnet -> opus)"
    checks = cache.why(plan.task("write-docs"), plan=plan, workdir=tmp_path, checks=["make test"])
    assert [change.line() for change in checks] == [
        "checks changed (test -s docs/API.md -> make test)"
    ]


def test_never_cached_and_not_cacheable(tmp_path: Path) -> None:
    cache = make_cache(tmp_path)
    plan = plan_of(PLAN + "  - {id: plain, run: 'true'}\n")
    new = why(cache, plan, tmp_path, "lib")
    assert [change.kind for change in new] == ["new"]
    assert explain_miss(new) == "no earlier cached run of this task"
    plain = why(cache, plan, tmp_path, "plain")
    assert plain[0].kind == "uncacheable" and "inputs:" in plain[0].detail


def test_cwd_and_declared_path_changes(tmp_path: Path) -> None:
    cache = stored_plan(tmp_path)
    plan = plan_of(PLAN.replace("inputs: [main.c]", "inputs: [main.c, extra.h]"))
    lines = [change.line() for change in why(cache, plan, tmp_path, "app")]
    assert lines == ["inputs changed (main.c -> main.c, extra.h)", "input extra.h added"]
    (tmp_path / "sub").mkdir()
    moved = plan_of(PLAN.replace("    env: {MODE", "    cwd: sub\n    env: {MODE"))
    lines = [change.line() for change in why(cache, moved, tmp_path, "app")]
    assert lines[:2] == ["cwd changed (. -> sub)", "input main.c deleted"]
