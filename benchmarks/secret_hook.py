"""Pre-commit hook cost: what the installed hook adds to a 10-file `git commit`.

    .venv/bin/python benchmarks/secret_hook.py [--runs 15] [--files 10]

In a fresh git repository, each run changes N files of realistic code, stages them and commits,
alternating `git commit --no-verify` (the peer: git alone) and `git commit` with the hook that
`br security hooks install` writes (interpreter start and imports included). The hook's cost is the
difference of the medians; the target is < 100 ms on a quiet machine. The check alone
(`python -m buildrunner.security.precommit`) and `python -c pass` are shown for reference, with the
load average, since a busy 2-core machine moves every figure.
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

CODE = """import os
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
"""

# Like a user's machine: bytecode caches allowed (this workplace sets PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
GIT = [
    "git",
    "-c",
    "user.name=bench",
    "-c",
    "user.email=bench@example.com",
    "-c",
    "commit.gpgsign=false",
]


def timed(command: list[str], cwd: Path, cpu: list[float] | None = None) -> float:
    """Wall ms; the children's CPU ms (user + system: less moved by a busy machine) go to `cpu`."""
    before = os.times()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, check=False, env=ENV)
    elapsed = (time.perf_counter() - started) * 1000
    after = os.times()
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode(errors='replace')}")
    if cpu is not None:
        cpu.append(
            (
                after.children_user
                - before.children_user
                + after.children_system
                - before.children_system
            )
            * 1000
        )
    return elapsed


def stage_changes(repo: Path, files: int, round_: int) -> None:
    for i in range(files):
        (repo / f"module_{i}.py").write_text(CODE * 8 + f"\nVERSION = {round_}\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(
            [sys.executable, "-m", "buildrunner", "security", "hooks", "install"],
            cwd=repo,
            check=True,
            capture_output=True,
            env=ENV,
        )
        stage_changes(repo, args.files, 0)
        timed([*GIT, "commit", "-q", "-m", "warm"], repo)  # writes .pyc files, warms the page cache
        plain: list[float] = []
        hooked: list[float] = []
        check_only: list[float] = []
        plain_cpu: list[float] = []
        hooked_cpu: list[float] = []
        bare_cpu: list[float] = []
        for round_ in range(1, args.runs + 1):
            stage_changes(repo, args.files, round_ * 2)
            check_only.append(timed([sys.executable, "-m", "buildrunner.security.precommit"], repo))
            plain.append(
                timed(
                    [*GIT, "commit", "-q", "--no-verify", "-m", f"plain {round_}"], repo, plain_cpu
                )
            )
            stage_changes(repo, args.files, round_ * 2 + 1)
            hooked.append(timed([*GIT, "commit", "-q", "-m", f"hooked {round_}"], repo, hooked_cpu))
        bare = statistics.median(
            timed([sys.executable, "-c", "pass"], repo, bare_cpu) for _ in range(args.runs)
        )
    median = statistics.median
    git_alone, with_hook = median(plain), median(hooked)
    print(f"{args.files}-file commit, median of {args.runs}:            wall      CPU")
    print(f"  git commit --no-verify (git alone)   {git_alone:7.0f} ms {median(plain_cpu):6.0f} ms")
    print(
        f"  git commit with BuildRunner's hook   {with_hook:7.0f} ms {median(hooked_cpu):6.0f} ms"
    )
    print(
        f"  added by the hook                    {with_hook - git_alone:7.0f} ms "
        f"{median(hooked_cpu) - median(plain_cpu):6.0f} ms   (target < 100 ms, quiet machine)"
    )
    print(
        f"  reference: the check alone {median(check_only):.0f} ms; python -c pass {bare:.0f} ms wall, "
        f"{median(bare_cpu):.0f} ms CPU; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
