"""Isolation speed on a 5,000-file repository: snapshot, a worktree per task, merge-back, landing.

    nice -n 10 .venv/bin/python benchmarks/isolation.py [--files 5000] [--tasks 20] [--plain 5]

Targets: a task's worktree in < 1 s (beside `git worktree add` alone, what an isolation that
makes a fresh worktree per task pays), and 20 non-conflicting task changes merged back in < 2 s
(beside `git merge` of the same 20 branches in a worktree, how a merge with a working tree does
it). The build is 20 independent tasks, two at a time, each merged as soon as it is done.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, timer

IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_repository(root: Path, files: int) -> None:
    """`files` source files in 100 folders, committed; then some dirty and untracked files."""
    git(root, "init", "-q", "-b", "main")
    body = "".join(f"def function_{j}(value):\n    return value + {j}\n\n" for j in range(20))
    for i in range(files):
        folder = root / f"pkg{i % 100:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{i:04d}.py").write_text(f"# module {i}\n{body}")
    (root / ".gitignore").write_text(".buildrunner/\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    for i in range(0, files, files // 20):  # 20 edited tracked files, 50 untracked ones
        (root / f"pkg{i % 100:02d}" / f"module{i:04d}.py").write_text(f"# edited {i}\n{body}")
    for i in range(50):
        (root / "pkg00" / f"new{i}.py").write_text(f"NEW = {i}\n")


def main() -> None:
    from buildrunner.build.isolation import Isolation

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--tasks", type=int, default=20, help="independent tasks (2 at a time)")
    parser.add_argument("--plain", type=int, default=5, help="plain `git worktree add` runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        make_repository(root, args.files)
        iso = Isolation(root, root / ".buildrunner", "bench")
        with timer() as snapshot_s:
            iso.snapshot()

        # a build of independent tasks, two at a time: each gets a worktree from the snapshot,
        # changes one file, commits, and is merged back as soon as it is accepted
        made, merges, changed = [], [], []
        for pair in range(0, args.tasks, 2):
            names = [f"task{i}" for i in range(pair, min(pair + 2, args.tasks))]
            for i, name in enumerate(names, pair):
                start = time.perf_counter()
                workspace = iso.workspace(name)
                made.append(time.perf_counter() - start)
                target = workspace / f"pkg{i % 100:02d}" / f"module{i:04d}.py"
                target.write_text(
                    target.read_text() + f"\n\ndef added_by_{name}():\n    return {i}\n"
                )
                iso.commit_task(name)
            for name in names:
                start = time.perf_counter()
                result = iso.merge(name)
                merges.append(time.perf_counter() - start)
                assert result.status == "merged", result
                changed.append(name)

        plain = []  # (removed only at the end: deleting 5,000 files would slow the next one)
        for i in range(args.plain):
            path = Path(tmp) / f"plain{i}"
            start = time.perf_counter()
            git(root, "worktree", "add", "-q", "--detach", str(path), iso.state.snapshot or "")
            plain.append(time.perf_counter() - start)

        # the peer: the same branches merged one by one with `git merge` in a worktree
        peer_tree = Path(tmp) / "peer-merge"
        git(root, "worktree", "add", "-q", "--detach", str(peer_tree), iso.state.snapshot or "")
        with timer() as peer_merge_s:
            for name in changed:
                git(peer_tree, "merge", "-q", "--no-edit", f"br/bench/{name}")
        assert git(peer_tree, "rev-parse", "HEAD^{tree}") == git(
            root, "rev-parse", f"{iso.integration()}^{{tree}}"
        )
        with timer() as land_s:
            landed = iso.land()
        assert len(landed.written) == args.tasks
        iso.cleanup(force=True)

    print(f"isolation on a {args.files}-file repository ({os.cpu_count()} CPUs)")
    print(f"  snapshot of the current tree (20 edited, 50 untracked files): {snapshot_s():.3f} s")
    print(
        f"  worktree per task, {args.tasks} tasks two at a time: buildrunner mean "
        f"{statistics.mean(made):.3f} s, median {statistics.median(made):.3f} s "
        f"(first two, made new: {made[0]:.3f} s, {made[1]:.3f} s; the rest reuse a finished "
        f"task's worktree; target < 1 s) | `git worktree add` alone: mean "
        f"{statistics.mean(plain):.3f} s, median {statistics.median(plain):.3f} s"
    )
    print(
        f"  merge-back of {len(merges)} non-conflicting task changes: buildrunner "
        f"{sum(merges):.3f} s in all, p90 {percentile(merges, 0.9):.3f} s each (target < 2 s) | "
        f"`git merge` of the same branches in a worktree: {peer_merge_s():.3f} s"
    )
    print(f"  landing the {args.tasks} merged files in the working tree: {land_s():.3f} s")


if __name__ == "__main__":
    main()
