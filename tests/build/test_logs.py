"""Task logs hold no raw secret, whatever happens to the processes that write them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from tests.conftest import BR, write_plan
from tests.security.tokens import TokenFactory, positives


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_kill_9_mid_task_leaves_only_masked_output_on_disk(project: Path) -> None:
    secret_lines = [line for _, line in positives(TokenFactory(5))][:12]
    script = project / "noisy.py"
    script.write_text(
        "import sys, time\n"
        f"for line in {json.dumps(secret_lines)}:\n"
        "    print(line, flush=True)\n"
        "print('ALL-PRINTED', flush=True)\n"
        "time.sleep(60)\n"
    )
    write_plan(project, f"name: leak\ntasks:\n  - id: noisy\n    run: {sys.executable} noisy.py\n")
    build = subprocess.Popen(
        [*BR, "run", "plan.yaml", "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    logs = project / ".buildrunner" / "logs"
    try:
        _wait_for(
            lambda: any(
                "ALL-PRINTED" in p.read_text(errors="replace") for p in logs.rglob("noisy.*.log")
            )
        )
        # kill -9 everything br started (orchestrator and worker), then the task itself
        tree = [build, *psutil.Process(build.pid).children(recursive=True)]
        for process in tree:
            os.kill(process.pid, signal.SIGKILL)
    finally:
        for process in psutil.process_iter(["cmdline"]):
            if "noisy.py" in " ".join(process.info["cmdline"] or []):
                process.kill()
        build.wait()
    text = "\n".join(p.read_text(errors="replace") for p in logs.rglob("noisy.*.log"))
    assert "ALL-PRINTED" in text
    for line in secret_lines:
        assert line not in text, line  # every line held a secret: none is there raw
    assert text.count("…") >= len(secret_lines) - 2  # and they were masked, not dropped


def test_a_background_child_holding_the_output_does_not_hold_the_task(project: Path) -> None:
    # the task ends when its command ends, not when a child it left behind closes the output
    write_plan(project, "name: bg\ntasks:\n  - id: bg\n    run: sleep 600 & echo started\n")
    result = subprocess.run(
        [*BR, "run", "plan.yaml", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    log = next((project / ".buildrunner" / "logs").rglob("bg.*.log"))
    assert "started" in log.read_text()
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] == ["sleep", "600"]:
            process.kill()
