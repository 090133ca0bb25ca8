"""Scheduling overhead: 1,000 trivial tasks (`true`) on 2 workers, ours beside Ray's.

    .venv/bin/python benchmarks/scheduling.py [--tasks 1000] [--workers 2] [--repeat 3] [--no-ray]

Ours: a real `br` session through the Orchestrator (store, events, worker processes).
Ray: the same number of remote tasks, each running `true` in a subprocess, on a local Ray with
2 CPUs (Ray is taken from this interpreter if installed, else from benchmarks/.venv-ray).
The two run in turns (ours, Ray, ours, ...) so that a change in the machine's load hits both;
the medians are compared.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peer_python

RAY_SCRIPT = """
import subprocess, sys, time
import ray
tasks, cpus = int(sys.argv[1]), int(sys.argv[2])
ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
@ray.remote(num_cpus=1)
def run(command):
    return subprocess.run(command, shell=False).returncode
ray.get([run.remote(["true"]) for _ in range(20)])  # warm the worker pool
start = time.perf_counter()
codes = ray.get([run.remote(["true"]) for _ in range(tasks)])
elapsed = time.perf_counter() - start
assert all(code == 0 for code in codes)
print(tasks / elapsed)
ray.shutdown()
"""


def ours(tasks: int, workers: int) -> float:
    from buildrunner.config import load_settings
    from buildrunner.orchestrator import Orchestrator
    from buildrunner.parallel.plan import Plan, TaskSpec
    from buildrunner.store.db import Store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plan = Plan(name="bench", tasks=[TaskSpec(id=f"t{i}", run="true") for i in range(tasks)])
        orchestrator = Orchestrator(Store(root), load_settings(root, environ={}))
        session_id = orchestrator.create(plan, workers=workers, workdir=root)
        start = time.perf_counter()
        summary = orchestrator.run(session_id)
        elapsed = time.perf_counter() - start
        orchestrator.close()
        assert summary.counts["succeeded"] == tasks, summary.counts
    return tasks / elapsed


def ray_rate(tasks: int, workers: int) -> float | None:
    try:
        import ray  # noqa: F401

        python = Path(sys.executable)
    except ImportError:
        found = peer_python("ray", ["ray>=2.9"])
        if found is None:
            return None
        python = found
    result = subprocess.run(
        [str(python), "-c", RAY_SCRIPT, str(tasks), str(workers)], capture_output=True, text=True
    )
    if result.returncode != 0:
        print(f"note: Ray run failed: {result.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, in turns")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray peer")
    args = parser.parse_args()
    rates: list[float] = []
    peers: list[float] = []
    for _ in range(max(args.repeat, 1)):
        rates.append(ours(args.tasks, args.workers))
        peer = None if args.no_ray else ray_rate(args.tasks, args.workers)
        if peer is not None:
            peers.append(peer)
    rate = statistics.median(rates)
    print(f"{args.tasks} trivial tasks, {args.workers} workers, median of {len(rates)} runs")
    print(f"  buildrunner (local backend): {rate:8.1f} tasks/s  ({_runs(rates)})")
    if peers:
        peer_rate = statistics.median(peers)
        print(
            f"  ray (local, {args.workers} CPUs):        {peer_rate:8.1f} tasks/s  ({_runs(peers)})"
        )
        print(f"  ratio ours/ray: {rate / peer_rate:.2f}")
    else:
        print(f"  ray (local, {args.workers} CPUs):           n/a")


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


if __name__ == "__main__":
    main()
