"""Cache keys: each kind of input turns a hit into a miss, and nothing else does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildrunner.build import cache_key
from buildrunner.build.cache import TaskCache
from buildrunner.build.cache_key import CacheKey
from buildrunner.parallel.plan import Plan
from tests.build.cache_helpers import backdate, make_cache, plan_of, run_plan, write

PLAN = """
name: keys
env: {SHARED: "one"}
cache_env: [DEPLOY_TARGET]
tasks:
  - id: build
    run: cat src/*.py > out.txt
    inputs: [src/*.py, data/, config.toml]
    files: [out.txt]
    env: {LEVEL: "3"}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write(tmp_path, "src/a.py", "print('a')\n")
    write(tmp_path, "src/b.py", "print('b')\n")
    write(tmp_path, "data/nested/table.csv", "x,y\n1,2\n")
    write(tmp_path, "config.toml", "debug = false\n")
    backdate(tmp_path)
    return tmp_path


def key_of(
    cache: TaskCache, plan: Plan, root: Path, task_id: str = "build", **options: object
) -> CacheKey:
    key = cache.key(plan.task(task_id), plan=plan, workdir=root, **options)  # type: ignore[arg-type]
    assert key is not None
    return key


def test_same_inputs_same_key_across_caches_and_runs(tree: Path) -> None:
    plan = plan_of(PLAN)
    first = key_of(make_cache(tree), plan, tree)
    second = key_of(make_cache(tree), plan, tree)
    assert first.digest == second.digest
    assert len(first.digest) == 64
    assert dict(first.parts.inputs).keys() == {
        "src/a.py",
        "src/b.py",
        "data/nested/table.csv",
        "config.toml",
    }


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda root: write(root, "src/a.py", "print('A')\n"), id="file-content"),
        pytest.param(lambda root: write(root, "src/c.py", ""), id="glob-gains-a-member"),
        pytest.param(lambda root: os.unlink(root / "src/b.py"), id="glob-loses-a-member"),
        pytest.param(
            lambda root: write(root, "data/nested/table.csv", "x,y\n1,3\n"), id="dir-content"
        ),
        pytest.param(lambda root: write(root, "data/new.csv", ""), id="dir-gains-a-file"),
        pytest.param(lambda root: os.unlink(root / "config.toml"), id="exact-path-deleted"),
    ],
)
def test_each_input_change_misses(tree: Path, change: object) -> None:
    plan = plan_of(PLAN)
    cache = make_cache(tree)
    before = key_of(cache, plan, tree)
    change(tree)  # type: ignore[operator]
    assert key_of(make_cache(tree), plan, tree).digest != before.digest
    assert key_of(cache, plan, tree).digest != before.digest  # the same cache notices too


def test_files_outside_the_declared_inputs_do_not_matter(tree: Path) -> None:
    plan = plan_of(PLAN)
    cache = make_cache(tree)
    before = key_of(cache, plan, tree)
    write(tree, "src/notes.txt", "not a .py file")  # outside the glob
    write(tree, "README.md", "elsewhere")
    write(tree, "data/__pycache__/x.pyc", "tool cache")  # ignored folder inside an input dir
    assert key_of(cache, plan, tree).digest == before.digest


def test_missing_exact_input_appearing_misses(tree: Path) -> None:
    plan = plan_of(PLAN.replace("config.toml]", "config.toml, local.toml]"))
    cache = make_cache(tree)
    before = key_of(cache, plan, tree)
    assert dict(before.parts.inputs)["local.toml"] == cache_key.MISSING
    write(tree, "local.toml", "x = 1\n")
    assert key_of(cache, plan, tree).digest != before.digest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("run: cat src/*.py > out.txt", "run: cat src/*.py >> out.txt"),  # command
        ('env: {LEVEL: "3"}', 'env: {LEVEL: "4"}'),  # task env value
        ('env: {SHARED: "one"}', 'env: {SHARED: "two"}'),  # plan env value
        ("files: [out.txt]", "files: [out.txt, extra.txt]"),  # declared outputs
        ("inputs: [src/*.py, data/, config.toml]", "inputs: [src/*.py, data/]"),  # declared inputs
    ],
)
def test_plan_edits_miss(tree: Path, old: str, new: str) -> None:
    cache = make_cache(tree)
    before = key_of(cache, plan_of(PLAN), tree)
    edited = PLAN.replace(old, new)
    assert edited != PLAN
    assert key_of(cache, plan_of(edited), tree).digest != before.digest


def test_cache_env_value_from_the_environment(tree: Path) -> None:
    plan = plan_of(PLAN)
    unset = key_of(make_cache(tree, environ={}), plan, tree)
    staging = key_of(make_cache(tree, environ={"DEPLOY_TARGET": "staging"}), plan, tree)
    prod = key_of(make_cache(tree, environ={"DEPLOY_TARGET": "prod"}), plan, tree)
    other = key_of(make_cache(tree, environ={"DEPLOY_TARGET": "prod", "UNLISTED": "x"}), plan, tree)
    assert len({unset.digest, staging.digest, prod.digest}) == 3
    assert other.digest == prod.digest  # a variable not named anywhere is not part of the key
    assert dict(unset.parts.env)["DEPLOY_TARGET"] == cache_key.UNSET


def test_cwd_changes_the_key(tmp_path: Path) -> None:
    write(tmp_path, "a/in.txt", "same")
    write(tmp_path, "b/in.txt", "same")
    text = "name: p\ntasks:\n  - id: t\n    run: cat in.txt\n    inputs: [in.txt]\n    cwd: {}\n"
    cache = make_cache(tmp_path)
    in_a = key_of(cache, plan_of(text.format("a")), tmp_path, "t")
    in_b = key_of(cache, plan_of(text.format("b")), tmp_path, "t")
    assert dict(in_a.parts.inputs) == dict(in_b.parts.inputs)  # same content, relative paths
    assert in_a.digest != in_b.digest
    same_as_root = key_of(cache, plan_of(text.format("./a/")), tmp_path, "t")
    assert same_as_root.digest == in_a.digest  # cwd is normalised


AGENT = """
name: agents
check: pytest -q
tasks:
  - id: fix
    prompt: |
      Fix the bug in app.py.
      Keep the API.
    files: [app.py]
"""


def test_agent_prompt_route_checks_and_options(tmp_path: Path) -> None:
    cache = make_cache(tmp_path)
    plan = plan_of(AGENT)
    base = key_of(cache, plan, tmp_path, "fix", route=["haiku", "sonnet"])
    assert base.parts.checks == ("pytest -q",)  # the plan's default check
    variants = [
        key_of(
            cache,
            plan_of(AGENT.replace("Keep the API.", "Keep the API stable.")),
            tmp_path,
            "fix",
            route=["haiku", "sonnet"],
        ),
        key_of(cache, plan, tmp_path, "fix", route=["sonnet"]),
        key_of(
            cache,
            plan,
            tmp_path,
            "fix",
            route=["haiku", "sonnet"],
            checks=["pytest -q", "ruff check"],
        ),
        key_of(
            cache,
            plan_of(AGENT.replace("files: [app.py]", "files: [app.py]\n    allow_commands: true")),
            tmp_path,
            "fix",
            route=["haiku", "sonnet"],
        ),
    ]
    digests = {base.digest, *(variant.digest for variant in variants)}
    assert len(digests) == 5


def test_format_version_is_part_of_the_key(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = make_cache(tree)
    before = key_of(cache, plan_of(PLAN), tree)
    monkeypatch.setattr(cache_key, "FORMAT_VERSION", cache_key.FORMAT_VERSION + 1)
    after = key_of(cache, plan_of(PLAN), tree)
    assert after.parts.format_version == before.parts.format_version + 1
    assert after.digest != before.digest


def test_what_is_cacheable(tmp_path: Path) -> None:
    plan = plan_of("""
name: kinds
tasks:
  - {id: plain, run: "true"}
  - {id: with-inputs, run: "true", inputs: [x]}
  - {id: forced, run: "true", cache: true}
  - {id: agent, prompt: do it}
  - {id: agent-off, prompt: do it, cache: false}
  - {id: inputs-off, run: "true", inputs: [x], cache: false}
""")
    cache = make_cache(tmp_path)
    cacheable = {task.id for task in plan.tasks if cache.key(task, plan=plan, workdir=tmp_path)}
    assert cacheable == {"with-inputs", "forced", "agent"}


def test_dependency_key_is_part_of_the_key(tree: Path) -> None:
    plan = plan_of(PLAN + "  - {id: after, run: 'true', cache: true, depends_on: [build]}\n")
    cache = make_cache(tree)
    first = key_of(cache, plan, tree, "after", dependency_keys={"build": "a" * 64})
    second = key_of(cache, plan, tree, "after", dependency_keys={"build": "b" * 64})
    assert first.digest != second.digest
    assert dict(first.parts.dependencies) == {"build": "a" * 64}


CHAIN = """
name: chain
tasks:
  - {id: gen, run: "cat in/a.txt > gen.txt", inputs: [in/a.txt], files: [gen.txt]}
  - {id: use, run: "cat gen.txt gen.txt > use.txt", depends_on: [gen], cache: true, files: [use.txt]}
  - {id: last, run: "wc -c use.txt > last.txt", depends_on: [use], cache: true, files: [last.txt]}
  - {id: side, run: "cat in/b.txt > side.txt", inputs: [in/b.txt], files: [side.txt]}
  - {id: stamp, run: "date +%s%N > stamp.txt", files: [stamp.txt]}
  - {id: after-stamp, run: "cat stamp.txt > copy.txt", depends_on: [stamp], cache: true, files: [copy.txt]}
"""


def test_a_changed_input_reruns_exactly_what_is_downstream(tmp_path: Path) -> None:
    write(tmp_path, "in/a.txt", "a")
    write(tmp_path, "in/b.txt", "b")
    plan = plan_of(CHAIN)
    cache = make_cache(tmp_path)
    assert set(run_plan(cache, plan, tmp_path).values()) == {"ran"}
    warm = run_plan(cache, plan, tmp_path)
    # `stamp` has no key (a command without inputs): it runs every time, and `after-stamp`
    # depends on the content of its declared file, which changes every run
    assert warm == {
        "gen": "cached",
        "use": "cached",
        "last": "cached",
        "side": "cached",
        "stamp": "ran",
        "after-stamp": "ran",
    }
    write(tmp_path, "in/a.txt", "changed")
    again = run_plan(cache, plan, tmp_path)
    assert {task for task, outcome in again.items() if outcome == "ran"} == {
        "gen",
        "use",
        "last",
        "stamp",
        "after-stamp",
    }
    assert (tmp_path / "use.txt").read_text() == "changedchanged"


def test_plan_keys_match_the_keys_of_a_run(tmp_path: Path) -> None:
    write(tmp_path, "in/a.txt", "a")
    write(tmp_path, "in/b.txt", "b")
    plan = plan_of(CHAIN)
    cache = make_cache(tmp_path)
    run_plan(cache, plan, tmp_path)
    keys = cache.plan_keys(plan, tmp_path)
    assert keys["stamp"] is None
    for task_id in ("gen", "use", "last", "side"):
        key = keys[task_id]
        assert key is not None and cache.lookup(key) is not None, task_id
    only = cache.plan_keys(plan, tmp_path, only="use")
    assert set(only) == {"gen", "use"}


def test_a_task_s_own_outputs_are_not_its_inputs(tmp_path: Path) -> None:
    write(tmp_path, "app/main.py", "print('main')\n")
    write(tmp_path, "app/generated.py", "# generated\n")
    plan = plan_of("""
name: own-outputs
tasks:
  - {id: gen, run: "true", inputs: [app/], files: [app/generated.py]}
""")
    cache = make_cache(tmp_path)
    before = key_of(cache, plan, tmp_path, "gen")
    assert dict(before.parts.inputs).keys() == {"app/main.py"}
    write(tmp_path, "app/generated.py", "# generated again, differently\n")
    assert key_of(cache, plan, tmp_path, "gen").digest == before.digest
    write(tmp_path, "app/main.py", "print('changed')\n")
    assert key_of(cache, plan, tmp_path, "gen").digest != before.digest


def test_an_input_changed_while_the_task_ran_is_not_stored(tmp_path: Path) -> None:
    write(tmp_path, "in.txt", "before")
    plan = plan_of(
        "name: p\ntasks:\n  - {id: t, run: 'true', inputs: [in.txt], files: [out.txt]}\n"
    )
    cache = make_cache(tmp_path)
    key = key_of(cache, plan, tmp_path, "t")
    write(tmp_path, "in.txt", "edited during the run")
    write(tmp_path, "out.txt", "made from either version")
    result = cache.store(
        key, workdir=tmp_path, log_path=None, cost_usd=0, duration_s=0, session_id=None
    )
    assert (
        not result.stored and result.reason == "input in.txt changed while the task ran: not stored"
    )
    assert cache.lookup(key) is None
