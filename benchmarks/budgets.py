"""Budgets under parallel agent tasks: spend against the budget, ours beside the unreserved design.

    .venv/bin/python benchmarks/budgets.py [--tasks 8] [--budget 0.10] [--workers 8]

Both runs: the same plan of N agent tasks (each writes one file in two model calls, the first
reading ~5,000 tokens) against the project's local Messages API server, on N workers, with a
session budget. "ours" is this tree: every call reserves its worst case first. "unreserved" is
br as it was before reservations (commit 3405ca1, checked out into a throwaway worktree): each
task was handed the whole remaining budget and nothing was reserved. Printed: what each spent,
as a share of the budget, and the overshoot (spent minus budget, 0 when within it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fakes.messages_server import (  # noqa: E402
    MessagesServer,
    RecordedRequest,
    Reply,
    slow,
    text,
    tool_use,
)

UNRESERVED_COMMIT = "3405ca1"  # main before this work: no reservations


def answer(request: RecordedRequest) -> Reply:
    last = request.body["messages"][-1]
    content = last.get("content")
    if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content):
        return slow(text("Done.", input_tokens=1200, output_tokens=40), 0.2)
    prompt = request.body["messages"][0]["content"]
    prompt = prompt if isinstance(prompt, str) else prompt[0]["text"]
    return slow(
        tool_use(
            "write_file",
            {"path": f"{prompt.split()[1]}.txt", "content": "x\n"},
            input_tokens=5000,
            output_tokens=300,
        ),
        0.3,
    )


def run(source: Path, tasks: int, workers: int, budget: Decimal) -> Decimal:
    """Run the plan with br from `source` (a tree's src/); what it spent."""
    with tempfile.TemporaryDirectory() as folder, MessagesServer(responder=answer) as server:
        project = Path(folder)
        (project / ".buildrunner").mkdir()
        (project / ".buildrunner" / "config.toml").write_text(
            f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\n'
        )
        plan = "".join(
            f"  - id: t{i}\n    prompt: Write t{i}.txt with one line\n"
            f"    files: [t{i}.txt]\n    model: sonnet\n"
            for i in range(tasks)
        )
        (project / "plan.yaml").write_text(f"name: money\nbudget_usd: {budget}\ntasks:\n{plan}")
        env = {**os.environ, "PYTHONPATH": str(source), "BR_PROJECT_DIR": str(project)}
        env.pop("ANTHROPIC_API_KEY", None)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "buildrunner",
                "run",
                "plan.yaml",
                "--json",
                "--workers",
                str(workers),
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        database = project / ".buildrunner" / "buildrunner.db"
        if not database.exists():
            raise SystemExit(f"br from {source} did not run: {done.stderr.strip()[-500:]}")
        import sqlite3

        conn = sqlite3.connect(database)
        micro = conn.execute("SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs").fetchone()[0]
        return Decimal(micro) / 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--budget", type=Decimal, default=Decimal("0.10"))
    args = parser.parse_args()
    results = {"ours (reserved)": run(ROOT / "src", args.tasks, args.workers, args.budget)}
    with tempfile.TemporaryDirectory() as folder:
        old = Path(folder) / "unreserved"
        made = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), UNRESERVED_COMMIT],
            capture_output=True,
            text=True,
        )
        if made.returncode == 0:
            try:
                results["unreserved (before)"] = run(
                    old / "src", args.tasks, args.workers, args.budget
                )
            finally:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                    capture_output=True,
                )
        else:
            print(
                f"note: cannot check out {UNRESERVED_COMMIT}: {made.stderr.strip()}",
                file=sys.stderr,
            )
    print(f"{args.tasks} agent tasks, {args.workers} workers, budget ${args.budget}")
    for name, spent in results.items():
        over = max(Decimal(0), spent - args.budget)
        print(
            f"  {name:22} spent ${spent:.6f} = {spent / args.budget:.2f}x the budget,"
            f" overshoot ${over:.6f}"
        )
    print(json.dumps({name: str(spent) for name, spent in results.items()}))


if __name__ == "__main__":
    main()
