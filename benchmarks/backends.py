"""The same plans on the local backend and on a local Ray: throughput and parallel efficiency.

    .venv/bin/python benchmarks/backends.py [--quick] [--workers 2] [--tasks 500] [--sleepers 200]

1. `--tasks` trivial tasks (`true`): tasks/s through the whole orchestrator (store, locks, events).
2. `--sleepers` tasks of `sleep 0.2`: parallel efficiency = ideal time / actual time, where the
   ideal is tasks x 0.2 s / workers.
Both backends run through the Orchestrator API with a temporary project. Ray (2 CPUs, from this
interpreter: `pip install 'buildrunner[ray]'`) is started once beforehand, so its start-up time is
reported on its own line and not counted in the figures. The local backend's worker start-up is
part of its run, as in a real `br run`.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

SLEEP_S = 0.2


def run_plan(backend: str, command: str, tasks: int, workers: int) -> float:
    """Wall seconds to run `tasks` copies of `command` with `workers` at once."""
    from buildrunner.config import load_settings
    from buildrunner.orchestrator import Orchestrator
    from buildrunner.parallel.plan import Plan, TaskSpec
    from buildrunner.store.db import Store

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plan = Plan(name="bench", tasks=[TaskSpec(id=f"t{i}", run=command) for i in range(tasks)])
        orchestrator = Orchestrator(Store(root), load_settings(root, environ={}))
        try:
            session_id = orchestrator.create(plan, workers=workers, backend=backend, workdir=root)
            start = time.perf_counter()
            summary = orchestrator.run(session_id)
            elapsed = time.perf_counter() - start
        finally:
            orchestrator.close()
    if summary.counts.get("succeeded") != tasks:
        raise SystemExit(f"{backend}: not every task succeeded: {summary.counts}")
    return elapsed


def start_ray(cpus: int) -> float | None:
    """Start a local Ray for the whole benchmark; seconds it took, None without Ray."""
    try:
        import ray
    except ImportError:
        return None
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    start = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024 * 1024,
        logging_level="WARNING",
    )
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--sleepers", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="100 trivial tasks, 40 sleepers")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.sleepers = 100, 40
    ray_start = start_ray(args.workers)
    backends = ["local"] + (["ray"] if ray_start is not None else [])
    if ray_start is None:
        print("ray: not installed (pip install 'buildrunner[ray]'); local backend only")
    else:
        print(f"ray: local Ray with {args.workers} CPUs started in {ray_start:.1f}s (not counted)")

    ideal = args.sleepers * SLEEP_S / args.workers
    rows = []
    for backend in backends:
        trivial = run_plan(backend, "true", args.tasks, args.workers)
        sleepy = run_plan(backend, f"sleep {SLEEP_S}", args.sleepers, args.workers)
        rows.append((backend, args.tasks / trivial, trivial, sleepy, ideal / sleepy))

    print(
        f"\n{args.tasks} x `true` and {args.sleepers} x `sleep {SLEEP_S}`, "
        f"{args.workers} workers (ideal for the sleepers: {ideal:.1f}s)"
    )
    print(
        f"{'backend':<8} {'tasks/s':>9} {'wall (true)':>12} {'wall (sleep)':>13} {'efficiency':>11}"
    )
    for backend, rate, trivial, sleepy, efficiency in rows:
        print(f"{backend:<8} {rate:>9.1f} {trivial:>11.2f}s {sleepy:>12.2f}s {efficiency:>10.0%}")
    if len(rows) == 2:
        print(f"\nray / local throughput: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
