"""Start-up time of `br`: `--version`, `--help` and a group's `--help`, beside the floor and peers.

usage: nice -n 10 .venv/bin/python benchmarks/startup.py [--runs N]

The floor is the interpreter itself (`python -c pass`); the peers are `git --version` and
`pre-commit --version` (a Python CLI of the same kind). Median and p90 of N runs each, wall
time, on whatever the machine is doing (run it quiet: the issue's target is `br --version`
< 0.10 s on a quiet machine). The import cost of `br --help` (`python -X importtime`) says what
the slowest imports are, so a regression names its cause.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile

BIN = Path(sys.executable).parent


def timed(command: list[str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - start)
    return percentile(samples, 0.5), percentile(samples, 0.9)


def slowest_imports(command: list[str], top: int) -> list[tuple[float, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command], capture_output=True, text=True
    )
    found = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\S.*)$", line)
        if match and not match.group(2).startswith(" "):
            found.append((int(match.group(1)) / 1e6, match.group(2).strip()))
    return sorted(found, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    br = str(BIN / "br") if (BIN / "br").exists() else None
    rows: list[tuple[str, list[str]]] = [
        ("python -c pass (the floor)", [sys.executable, "-c", "pass"]),
    ]
    if br:
        rows += [
            ("br --version", [br, "--version"]),
            ("br --help", [br, "--help"]),
            ("br parallel --help", [br, "parallel", "--help"]),
        ]
    if shutil.which("git"):
        rows.append(("git --version (peer)", ["git", "--version"]))
    pre_commit = BIN / "pre-commit"
    if pre_commit.exists():
        rows.append(("pre-commit --version (peer)", [str(pre_commit), "--version"]))
    print(f"{'command':34} {'median':>8} {'p90':>8}   ({args.runs} runs each)")
    for label, command in rows:
        median, p90 = timed(command, args.runs)
        print(f"{label:34} {median * 1000:7.0f}ms {p90 * 1000:7.0f}ms")
    print("\nslowest top-level imports of `br --help` (cumulative):")
    for seconds, name in slowest_imports(["-m", "buildrunner", "--help"], 8):
        print(f"  {seconds * 1000:7.1f}ms  {name}")


if __name__ == "__main__":
    main()
