"""Pre-commit hook latency: median wall time of the installed hook's command on a 10-file commit.

    .venv/bin/python benchmarks/secret_hook.py [--runs 15] [--files 10]

Measures `python -m buildrunner.security.precommit` (what the hook runs, interpreter start included)
in a fresh git repository with N staged files of realistic code, and `python -c pass` for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CODE = '''import os
from dataclasses import dataclass


@dataclass
class Settings:
    database_url: str = os.environ.get("DATABASE_URL", "")
    api_token: str = os.environ.get("API_TOKEN", "")


def load(path: str) -> dict[str, str]:
    values = {}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
'''


# Like a user's machine: bytecode caches allowed (this workplace sets PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_ms(command: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms of the child: user + system, less sensitive to a busy machine)."""
    walls, cpus = [], []
    for _ in range(runs):
        before = os.times()
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False, env=ENV)
        walls.append((time.perf_counter() - started) * 1000)
        after = os.times()
        cpus.append((after.children_user - before.children_user + after.children_system - before.children_system) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        for i in range(args.files):
            (repo / f"module_{i}.py").write_text(CODE * 8)
        subprocess.run(["git", "add", "."], cwd=repo, check=True)
        median_ms([sys.executable, "-m", "buildrunner.security.precommit"], repo, 1)  # warm: write .pyc
        hook, hook_cpu = median_ms([sys.executable, "-m", "buildrunner.security.precommit"], repo, args.runs)
        bare, bare_cpu = median_ms([sys.executable, "-c", "pass"], repo, args.runs)
        git, _ = median_ms(["git", "diff", "--cached", "--name-only"], repo, args.runs)
    print(f"pre-commit check, {args.files} staged files: median {hook:.0f} ms wall, {hook_cpu:.0f} ms CPU "
          "(target < 100 ms wall)")
    print(f"  reference: python -c pass {bare:.0f} ms wall / {bare_cpu:.0f} ms CPU, one git diff {git:.0f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
