"""Task cache: cold run, warm run (nothing changed), warm run (one input changed); hashing vs git.

    .venv/bin/python benchmarks/cache.py [--tasks 200] [--files 2000] [--repeat 3]

Two plans: the demo plan (examples/demo, with `inputs:` declared by this script: the demo itself
declares none) and a generated plan of 200 tasks over 2,000 input files (a DAG: each task reads
its own folder and the outputs of up to two earlier tasks). Each run is a fresh interpreter doing
what the build loop does at dispatch: key + lookup + restore per task, and on a miss the task's
command really runs (a subprocess) and its result is stored. Its wall time includes the interpreter
start; "cpu" is its CPU time (the figure to trust on a busy machine), "plan" the CPU time of
the plan file parse and "cache" the CPU time of the cache calls (key, lookup, restore, store).

Hashing: the inputs of the unchanged tree (stat cache warm, a fresh process's view) beside
`git status` on the same files, and the cost per MB of hashing content (no stat cache) beside
`git hash-object`. End-to-end rows (`br run` with the cache) print n/a until `br run --help`
mentions --no-cache, i.e. until the build loop calls the cache.

Targets: warm unchanged 200-task plan: 0 tasks executed, <= 1.5 s wall including interpreter start;
hashing an unchanged tree no slower than 2x `git status`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "examples" / "demo"
DEMO_INPUTS = {  # what each demo task reads (the demo plan declares no inputs)
    "compile": ["calc/", "tests/", "tools/"],
    "lint": ["calc/", "tests/", "tools/lint.py"],
    "line-count": ["calc/", "tests/", "tools/count_lines.py"],
    "docs": ["calc/", "tools/docs.py"],
    "tests": ["calc/", "tests/"],
    "package": ["calc/"],
    "checksum": ["tools/checksum.py"],
}


# -- one run, in its own interpreter --------------------------------------------------------
def run_once(root: Path, plan_path: Path) -> dict[str, object]:
    """Run the plan through the cache like the build loop will; what ran and how long it took."""
    started = time.process_time()
    from buildrunner.build.cache import TaskCache
    from buildrunner.parallel.plan import load_plan, topological_order
    from buildrunner.store.db import Store

    imported = time.process_time()
    plan = load_plan(plan_path)
    loaded = time.process_time()
    cache = TaskCache(Store(root).connect(), root / ".buildrunner" / "cache")
    env = {
        **os.environ,
        **plan.env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    keys: dict[str, str] = {}
    executed, library = [], 0.0
    for task_id in topological_order(plan):
        task = plan.task(task_id)
        log = root / ".buildrunner" / "logs" / f"{task_id}.log"
        mark = time.process_time()
        key = cache.key(task, plan=plan, workdir=root, dependency_keys=keys)
        entry = cache.lookup(key) if key else None
        restored = entry is not None and cache.restore(entry, root, log_path=log).restored
        library += time.process_time() - mark
        if key:
            keys[task_id] = key.digest
        if restored:
            continue
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as handle:
            subprocess.run(
                task.run or "true",
                shell=True,
                cwd=root,
                env={**env, **task.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                check=True,
            )
        executed.append(task_id)
        if key:
            mark = time.process_time()
            cache.store(
                key, workdir=root, log_path=log, cost_usd=0, duration_s=0, session_id="bench"
            )
            library += time.process_time() - mark
    return {
        "executed": executed,
        "library_s": library,
        "imports_s": imported - started,
        "plan_s": loaded - imported,
        "in_process_s": time.process_time() - started,
    }


def timed_run(root: Path, plan_path: Path) -> dict[str, object]:
    """One run in a fresh interpreter, timed from outside (interpreter start included)."""
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(
        [sys.executable, __file__, "--phase", "run", "--root", str(root), "--plan", str(plan_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{result.stderr}")
    data: dict[str, object] = json.loads(result.stdout)
    data["wall_s"], data["cpu_s"] = wall, cpu
    return data


def _children_cpu() -> float:
    """CPU seconds (user + system) used by finished child processes, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- the trees ------------------------------------------------------------------------------
def generated_tree(root: Path, tasks: int, files: int) -> tuple[Path, dict[str, list[str]]]:
    """A project of `files` input files in `tasks` folders and a plan over them; plan and deps."""
    per_task = max(1, files // tasks)
    deps: dict[str, list[str]] = {}
    lines = ["name: generated", "tasks:"]
    for index in range(tasks):
        task_id = f"t{index:03d}"
        folder = root / "src" / task_id
        folder.mkdir(parents=True)
        for number in range(per_task):
            body = f"# {task_id} file {number}\n" + "".join(
                f"value_{line} = {index * 7919 + number * 31 + line}\n" for line in range(60)
            )
            (folder / f"f{number}.py").write_text(body)
        deps[task_id] = [
            f"t{dep:03d}" for dep in sorted({index - 1, index // 2}) if 0 <= dep < index
        ]
        reads = " ".join(f"out/{dep}.txt" for dep in deps[task_id])
        lines += [
            f"  - id: {task_id}",
            f"    run: mkdir -p out && cat src/{task_id}/* {reads} | cksum > out/{task_id}.txt",
            f"    inputs: [src/{task_id}/]",
            f"    files: [out/{task_id}.txt]",
        ]
        if deps[task_id]:
            lines.append(f"    depends_on: [{', '.join(deps[task_id])}]")
    plan = root / "plan.yaml"
    plan.write_text("\n".join(lines) + "\n")
    return plan, deps


def demo_tree(root: Path) -> tuple[Path, dict[str, list[str]]]:
    """A copy of examples/demo whose plan declares the inputs each task reads."""
    import yaml

    shutil.copytree(
        DEMO, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("build", "__pycache__")
    )
    data = yaml.safe_load((root / "plan.yaml").read_text())
    for task in data["tasks"]:
        task["inputs"] = DEMO_INPUTS[task["id"]]
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    return plan, {task["id"]: task.get("depends_on", []) for task in data["tasks"]}


def prepare_git(root: Path) -> None:
    (root / ".gitignore").write_text("out/\nbuild/\n.buildrunner/\n__pycache__/\n")
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], cwd=root, check=True)


def backdate(root: Path, seconds: float = 120.0) -> None:
    """Files as if checked out a while ago (outside the stat cache's racy window)."""
    when = time.time() - seconds
    for folder, dirs, names in os.walk(root):
        dirs[:] = [name for name in dirs if name != ".git"]
        for name in names:
            os.utime(os.path.join(folder, name), (when, when))


def downstream(deps: dict[str, list[str]], changed: str) -> set[str]:
    found = {changed}
    for task_id in deps:  # plan order is a topological order here
        if any(dep in found for dep in deps[task_id]):
            found.add(task_id)
    return found


# -- hashing beside git ---------------------------------------------------------------------
def hashing_figures(root: Path, repeat: int) -> dict[str, float]:
    from buildrunner.build.hashing import FileHasher, expand_patterns
    from buildrunner.store.db import Store

    conn = Store(root).connect()
    found = expand_patterns(str(root), ["src/"])
    total = sum(item.info.st_size for item in found.values() if item.info)
    cold: list[float] = []
    for _ in range(repeat):  # no stat cache at all: every file's content is read
        conn.execute("DELETE FROM file_hashes")
        start = time.perf_counter()
        hasher = FileHasher(conn)
        for item in expand_patterns(str(root), ["src/"]).values():
            hasher.digest(item.path, item.info)
        cold.append(time.perf_counter() - start)
        hasher.flush()  # what a first run leaves
    conn.close()  # the last connection checkpoints the WAL, as between two runs
    conn = Store(root).connect()
    paths = "\n".join(item.path for item in found.values()) + "\n"
    warm, warm_cpu, status, status_cpu, hash_object = [], [], [], [], []
    for _ in range(repeat):  # ours and git's in turns, so a change of load hits both
        start, cpu = time.perf_counter(), time.process_time()
        hasher = FileHasher(conn)  # a new run's view: only the stat cache in the store
        hasher.preload(str(root))
        for item in expand_patterns(str(root), ["src/"]).values():
            hasher.digest(item.path, item.info)
        warm.append(time.perf_counter() - start)
        warm_cpu.append(time.process_time() - cpu)
        assert hasher.hashed_bytes == 0, "the warm pass read file content"
        start, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(["git", "status", "--porcelain"], cwd=root, check=True, capture_output=True)
        status.append(time.perf_counter() - start)
        status_cpu.append(_children_cpu() - cpu)
        start = time.perf_counter()
        subprocess.run(
            ["git", "hash-object", "--stdin-paths"],
            cwd=root,
            input=paths,
            text=True,
            check=True,
            capture_output=True,
        )
        hash_object.append(time.perf_counter() - start)
    megabytes = total / 1e6
    return {
        "files": len(found),
        "mb": megabytes,
        "warm_s": statistics.median(warm),
        "git_status_s": statistics.median(status),
        "warm_best_s": min(warm),
        "git_status_best_s": min(status),
        "warm_cpu_s": statistics.median(warm_cpu),
        "git_status_cpu_s": statistics.median(status_cpu),
        "cold_ms_per_mb": statistics.median(cold) * 1000 / megabytes,
        "git_hash_ms_per_mb": statistics.median(hash_object) * 1000 / megabytes,
    }


# -- end to end (once the build loop calls the cache) ---------------------------------------
def br_run_has_cache() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "buildrunner", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "--no-cache" in result.stdout + result.stderr


def end_to_end(root: Path, plan_path: Path) -> dict[str, object]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "buildrunner", "run", str(plan_path), "--json"],
        cwd=root,
        env={**os.environ, "BR_PROJECT_DIR": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    results = json.loads(result.stdout).get("results", []) if result.stdout.strip() else []
    executed = [row["task_id"] for row in results if row.get("status") != "cached"]
    return {"executed": executed, "wall_s": wall}


# -- report ---------------------------------------------------------------------------------
def bench_plan(name: str, make: object, change: str, repeat: int, e2e: bool) -> None:
    rows: dict[str, list[dict[str, object]]] = {"cold": [], "warm": [], "changed": []}
    expected: set[str] = set()
    e2e_rows: dict[str, dict[str, object]] = {}
    for attempt in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            plan_path, deps = make(root)  # type: ignore[operator]
            backdate(root)
            rows["cold"].append(timed_run(root, plan_path))
            rows["warm"].append(timed_run(root, plan_path))
            target = root / change
            target.write_text(target.read_text() + "# changed\n")
            owner = (
                next(task for task, _ in deps.items() if change.startswith(f"src/{task}/"))
                if change.startswith("src/")
                else None
            )
            expected = downstream(deps, owner) if owner else expected
            rows["changed"].append(timed_run(root, plan_path))
        if e2e and attempt == 0:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                plan_path, _deps = make(root)  # type: ignore[operator]
                backdate(root)
                e2e_rows["cold"] = end_to_end(root, plan_path)
                e2e_rows["warm"] = end_to_end(root, plan_path)
                (root / change).write_text((root / change).read_text() + "# changed\n")
                e2e_rows["changed"] = end_to_end(root, plan_path)
    print(f"\n{name}")
    print(
        f"  {'run':<30}{'wall s':>8}{'cpu s':>7}{'plan s':>8}{'cache s':>9}{'executed':>10}"
        "   end-to-end br run"
    )
    for label, phase in (
        ("cold", "cold"),
        ("warm, nothing changed", "warm"),
        (f"warm, {change} changed", "changed"),
    ):
        wall, cpu, plan, library = (
            statistics.median(float(row[name]) for row in rows[phase])  # type: ignore[arg-type]
            for name in ("wall_s", "cpu_s", "plan_s", "library_s")
        )
        executed = rows[phase][-1]["executed"]
        assert isinstance(executed, list)
        e2e_text = "n/a (br run has no --no-cache yet)"
        if phase in e2e_rows:
            e2e_executed = e2e_rows[phase]["executed"]
            assert isinstance(e2e_executed, list)
            e2e_text = f"{float(e2e_rows[phase]['wall_s']):.2f} s, {len(e2e_executed)} executed"  # type: ignore[arg-type]
        print(
            f"  {label:<30}{wall:>8.2f}{cpu:>7.2f}{plan:>8.3f}{library:>9.3f}{len(executed):>10}"
            f"   {e2e_text}"
        )
    if expected:
        ran = set(rows["changed"][-1]["executed"])  # type: ignore[arg-type]
        verdict = "exactly" if ran == expected else f"NOT exactly ({sorted(ran ^ expected)[:5]})"
        print(f"  one changed input re-ran {verdict} the {len(expected)} tasks downstream of it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase", choices=["all", "run"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "run":
        print(json.dumps(run_once(args.root, args.plan)))
        return
    e2e = br_run_has_cache()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"interpreter start alone: {time.perf_counter() - start:.3f} s")
    bench_plan("demo plan (examples/demo, 7 tasks)", demo_tree, "calc/ops.py", args.repeat, e2e)
    middle = f"src/t{args.tasks // 2:03d}/f0.py"
    bench_plan(
        f"generated plan ({args.tasks} tasks, {args.files} input files)",
        lambda root: generated_tree(root, args.tasks, args.files),
        middle,
        args.repeat,
        e2e,
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generated_tree(root, args.tasks, args.files)
        prepare_git(root)
        backdate(root)
        subprocess.run(["git", "status", "--porcelain"], cwd=root, check=True, capture_output=True)
        rounds = max(args.repeat * 3, 9)
        figures = hashing_figures(root, rounds)
    print(
        f"\nhashing the inputs ({figures['files']:.0f} files, {figures['mb']:.1f} MB)"
        " of an unchanged tree (stat cache) beside git status (target <= 2x)"
    )
    for label, ours, peer in (
        ("median wall", "warm_s", "git_status_s"),
        (f"best of {rounds}", "warm_best_s", "git_status_best_s"),
        ("median CPU", "warm_cpu_s", "git_status_cpu_s"),
    ):
        print(
            f"  {label:<14} ours {figures[ours] * 1000:6.1f} ms   git status "
            f"{figures[peer] * 1000:6.1f} ms   ({figures[ours] / figures[peer]:.2f}x)"
        )
    print(
        f"content hashing per MB (no stat cache): ours {figures['cold_ms_per_mb']:.1f} ms/MB   "
        f"git hash-object {figures['git_hash_ms_per_mb']:.1f} ms/MB"
    )


if __name__ == "__main__":
    main()
