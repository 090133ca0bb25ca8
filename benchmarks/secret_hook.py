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


def median_ms(command: list[str], cwd: Path, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


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
        env_python = [sys.executable]
        hook = median_ms([*env_python, "-m", "buildrunner.security.precommit"], repo, args.runs)
        bare = median_ms([*env_python, "-c", "pass"], repo, args.runs)
        git = median_ms(["git", "diff", "--cached", "--name-only"], repo, args.runs)
    print(f"pre-commit check, {args.files} staged files: median {hook:.0f} ms (target < 100 ms)")
    print(f"  for reference: python -c pass {bare:.0f} ms, one git diff {git:.0f} ms; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
