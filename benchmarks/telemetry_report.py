"""Report and trace benchmark: a 1,000-task session's report in headless Chromium, and its trace.

    .venv/bin/python benchmarks/telemetry_report.py                 # 1,000 tasks
    .venv/bin/python benchmarks/telemetry_report.py --tasks 200     # quicker

A session is written into a fresh store the way a build writes it (tests/telemetry/sessions.py:
session and task rows, attempt rows from the build's recorder, events through the collector):
N tasks on 8 workers with dependencies, a quarter of them agent tasks with model calls and
checks (some climbing a model ladder, some cache hits), 3 % failing once and retried, a log of
about 2 KB per attempt. Then:
1. `write_report` (Python: read the store, lay out, render), the file's size (target < 2 MB);
2. the page in Debian's headless Chromium at 1280 x 900 (Playwright): from navigation start to
   the first frame after the page's script ran (`performance.now()` after two animation frames),
   median of 5 loads (target < 2 s); the wall time of `page.goto` to that frame beside it;
3. the peer: pytest-html's self-contained report of N tests (3 % failing, a short log each),
   installed in a throwaway venv, measured the same way in the same browser;
4. the Chrome trace of the same session: export time, size, and a check that it holds exactly
   one slice per attempt with the store's durations.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import peer_python  # noqa: E402

from buildrunner.store.db import connect  # noqa: E402
from buildrunner.telemetry import events as ev  # noqa: E402
from buildrunner.telemetry.report import write_report  # noqa: E402
from buildrunner.telemetry.session_reader import load_timeline  # noqa: E402
from buildrunner.telemetry.trace import write_trace  # noqa: E402
from tests.telemetry.browser import CHROMIUM_ARGS  # noqa: E402
from tests.telemetry.sessions import SessionWriter  # noqa: E402

WORKERS = 8
FIRST_FRAME = """async () => {
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    return performance.now();
}"""


def write_big_session(db_path: Path, logs_root: Path, tasks: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    kinds = ["agent" if rng.random() < 0.25 else "command" for _ in range(tasks)]
    depends: list[list[str]] = []
    lines = ["name: big", "tasks:"]
    for index in range(tasks):
        earlier = [f"t{j:04d}" for j in range(max(0, index - 40), index)]
        deps = rng.sample(earlier, k=min(len(earlier), rng.choice((0, 0, 1, 1, 2))))
        depends.append(deps)
        lines.append(f"  - id: t{index:04d}")
        lines.append(
            "    prompt: Improve module number " + str(index)
            if kinds[index] == "agent"
            else f"    run: python -m step {index}"
        )
        if deps:
            lines.append(f"    depends_on: [{', '.join(deps)}]")
    t0 = time.time() - 3600
    writer = SessionWriter(db_path, "\n".join(lines) + "\n", t0=t0, workers=WORKERS)
    free = [0.0] * WORKERS
    ended: dict[str, float] = {}
    for index in range(tasks):
        task_id = f"t{index:04d}"
        ready = max([ended[dep] for dep in depends[index]], default=0.0)
        runs = 2 if rng.random() < 0.03 else 1
        for attempt in range(1, runs + 1):
            worker = min(range(WORKERS), key=lambda w: max(free[w], ready))
            start = max(free[worker], ready) + 0.01
            duration = rng.lognormvariate(0.5 if kinds[index] == "command" else 2.0, 0.6)
            end = start + duration
            if kinds[index] == "agent":
                _agent_events(writer, rng, task_id, attempt, start, end)
            failed = attempt < runs
            writer.run(
                task_id,
                worker=f"w{worker + 1}",
                start=start,
                end=end,
                attempt=attempt,
                status="failed" if failed else "succeeded",
                exit_code=1 if failed else 0,
                error="exit code 1" if failed else None,
            )
            if failed:
                writer.emit(
                    ev.TaskRetried,
                    at=end,
                    task_id=task_id,
                    attempt=attempt + 1,
                    reason="attempt failed",
                )
            free[worker] = end
            folder = logs_root / writer.session_id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{task_id}.{attempt}.log").write_text(
                "".join(
                    f"{task_id} step {n}: compiled module_{n}.py in {rng.random():.3f}s\n"
                    for n in range(rng.randint(20, 40))
                )
            )
            ready = end
        ended[task_id] = ready
    return writer.finish(at=max(free) + 0.5)


def _agent_events(
    writer: SessionWriter, rng: random.Random, task_id: str, attempt: int, start: float, end: float
) -> None:
    ladder = ["haiku", "sonnet", "opus"]
    writer.emit(
        ev.ModelSelected,
        at=start - 0.005,
        task_id=task_id,
        model="haiku",
        complexity="moderate",
        ladder=ladder,
    )
    if rng.random() < 0.05:
        writer.emit(
            ev.TaskCached,
            at=start + 0.001,
            task_id=task_id,
            kind="agent",
            cache_key=f"k{task_id}",
            saved_usd=0.01,
            saved_s=30,
        )
        return
    rung = 2 if rng.random() < 0.1 else 1
    span = end - start
    for call in range(3):
        at = start + span * (call + 1) / 5
        writer.emit(
            ev.ModelCallCompleted,
            at=at,
            task_id=task_id,
            model=ladder[rung - 1],
            input_tokens=rng.randint(500, 4000),
            output_tokens=rng.randint(50, 800),
            cost_usd=rng.uniform(0.001, 0.02),
            latency_ms=span * 1000 / 8,
            finish_reason="end_turn",
        )
    common = {
        "task_id": task_id,
        "kind": "agent",
        "attempt": attempt,
        "rung": rung,
        "model": ladder[rung - 1],
        "command": "pytest -q",
    }
    writer.emit(ev.CheckStarted, at=start + span * 0.8, **common)
    writer.emit(ev.CheckPassed, at=start + span * 0.9, duration_ms=span * 100, **common)
    if rung == 2:
        writer.emit(
            ev.TaskEscalated,
            at=start + span * 0.1,
            task_id=task_id,
            kind="agent",
            attempt=attempt,
            from_model="haiku",
            to_model="sonnet",
            rung=2,
        )
    writer.emit(
        ev.TaskAccepted,
        at=end - 0.001,
        task_id=task_id,
        kind="agent",
        model=ladder[rung - 1],
        rung=rung,
        fix_rounds=0,
    )


REST_OF_PAGE = """async () => {
    const begun = performance.now();
    document.querySelectorAll('section').forEach(node => {
        node.style.contentVisibility = 'visible';  // what scrolling through the page would do
    });
    document.body.getBoundingClientRect();
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    return performance.now() - begun;
}"""


@dataclass
class Render:
    first_frame_ms: float  # navigation start -> first frame after the page's scripts
    wall_ms: float  # page.goto -> that frame, seen from here
    cpu_ms: float  # the renderer main thread's CPU time until then (Chrome's own trace)
    rest_ms: float  # then laying out and painting whatever waited off screen


def render_times(browser: Any, path: Path, loads: int = 5) -> Render:
    """Medians over `loads` fresh pages."""
    runs = []
    for _ in range(loads):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        trace = path.parent / "chrome-trace.json"
        browser.start_tracing(
            page=page,
            path=str(trace),
            categories=["devtools.timeline", "disabled-by-default-devtools.timeline"],
        )
        begun = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=120_000)
        first = float(page.evaluate(FIRST_FRAME))
        wall = (time.perf_counter() - begun) * 1000
        browser.stop_tracing()
        rest = float(page.evaluate(REST_OF_PAGE))
        runs.append(Render(first, wall, _main_thread_cpu_ms(trace), rest))
        page.close()
    return Render(
        *(
            statistics.median(getattr(run, name) for run in runs)
            for name in ("first_frame_ms", "wall_ms", "cpu_ms", "rest_ms")
        )
    )


def _main_thread_cpu_ms(trace_path: Path) -> float:
    """CPU time of the renderer's main thread's top-level tasks, from a Chrome trace."""
    data = json.loads(trace_path.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    return (
        sum(
            e.get("tdur", 0)
            for e in events
            if e.get("ph") == "X" and e.get("name") == "RunTask" and (e["pid"], e["tid"]) in main
        )
        / 1000
    )


def pytest_html_report(tests: int, folder: Path) -> Path | None:
    python = peer_python("pytest-html", ["pytest-html"], import_name="pytest_html")
    if python is None:
        return None
    (folder / "test_many.py").write_text(
        "import pytest\n\n"
        f"@pytest.mark.parametrize('n', range({tests}))\n"
        "def test_step(n):\n"
        "    print(f'step {n}: compiled module_{n}.py')\n"
        "    assert n % 33 != 5\n"
    )
    report = folder / "pytest-report.html"
    subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--html={report}",
            "--self-contained-html",
            "test_many.py",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    return report if report.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed: run `make tools` (.ci/tools/chromium.sh)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="br-report-bench-") as name:
        folder = Path(name)
        db_path, logs = folder / "buildrunner.db", folder / "logs"
        connect(db_path).close()
        began = time.perf_counter()
        session_id = write_big_session(db_path, logs, args.tasks)
        print(
            f"wrote a {args.tasks}-task session in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        conn = connect(db_path)
        began = time.perf_counter()
        result = write_report(conn, session_id, folder / "report.html", logs_root=logs)
        report_s = time.perf_counter() - began
        began = time.perf_counter()
        timeline = load_timeline(conn, session_id)
        write_trace(timeline, folder / "trace.json")
        trace_s = time.perf_counter() - began
        stored = {
            (row["task_id"], row["attempt"]): (row["ended_at"] - row["started_at"]) * 1e6
            for row in conn.execute("SELECT * FROM attempts WHERE session_id = ?", (session_id,))
        }
        conn.close()
        trace_size = (folder / "trace.json").stat().st_size
        trace = json.loads((folder / "trace.json").read_text())
        slices = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"].startswith("task")]
        exact = len(slices) == len(stored) and all(
            abs(e["dur"] - stored[(e["args"]["task"], e["args"]["attempt"])]) < 0.01 for e in slices
        )
        peer = pytest_html_report(args.tasks, folder)
        peer_size = peer.stat().st_size if peer else None
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            ours = render_times(browser, folder / "report.html")
            theirs = render_times(browser, peer) if peer else None
            browser.close()

    def cell(value: float | None, unit: str) -> str:
        return (
            "-"
            if value is None
            else f"{value:,.0f} {unit}"
            if unit == "ms"
            else f"{value:.2f} {unit}"
        )

    size_mb = result.size_bytes / 1e6
    peer_mb = peer_size / 1e6 if peer_size else None
    load = os.getloadavg()[0]
    print(
        f"\n{args.tasks} tasks, {result.attempts} attempts, {WORKERS} workers; "
        f"load average {load:.1f} on {os.cpu_count()} cores (times are medians of 5 loads)"
    )
    print(f"{'figure':62} {'buildrunner':>13} {'pytest-html':>13} {'target':>8}")

    def both(name: str) -> tuple[str, str]:
        return (
            cell(getattr(ours, name), "ms"),
            cell(getattr(theirs, name) if theirs else None, "ms"),
        )

    rows = [
        ("report file size", cell(size_mb, "MB"), cell(peer_mb, "MB"), "< 2 MB"),
        ("Chromium: navigation -> first frame after the scripts", *both("first_frame_ms"), "< 2 s"),
        ("Chromium: page.goto -> that frame, wall time", *both("wall_ms"), ""),
        ("Chromium: main-thread CPU until then (Chrome trace)", *both("cpu_ms"), ""),
        ("Chromium: then laying out everything below the first screen", *both("rest_ms"), ""),
        (
            "write_report (read the store, lay out, render HTML)",
            cell(report_s * 1000, "ms"),
            "",
            "",
        ),
        ("trace export (read the store, write JSON)", cell(trace_s * 1000, "ms"), "", ""),
        ("trace size", cell(trace_size / 1e6, "MB"), "", ""),
        (
            "trace: one slice per attempt with the store's durations",
            f"{len(slices)}/{len(stored)} {'yes' if exact else 'NO'}",
            "",
            "exact",
        ),
    ]
    for name, our, their, target in rows:
        print(f"{name:62} {our:>13} {their:>13} {target:>8}")


if __name__ == "__main__":
    main()
