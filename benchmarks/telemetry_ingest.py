"""Telemetry benchmark: collector ingest rate vs raw executemany, and `br telemetry summary` time.

    .venv/bin/python benchmarks/telemetry_ingest.py            # 200k ingest, 1M-event summary
    .venv/bin/python benchmarks/telemetry_ingest.py --quick    # 20k ingest, 100k-event summary

1. Ingest. The same typed events go (a) through `Collector.emit` until `close()` returns (all
   persisted: masking already done at construction, then row building, batching, background
   thread, one transaction per batch) and (b) as pre-built row tuples through raw
   `executemany`, `batch_size` rows per transaction, into the same schema (a fresh migrated
   database each). Raw (b) is the most favourable baseline: its rows are built before timing.
   Target: collector >= 50 % of raw.
2. Summary. A database of N events is written; `br telemetry summary --json` runs as a real
   process (median of 5 runs, interpreter start-up included), for two layouts:
   - spread: N events over 30 days (the default retention), default 24 h window;
   - worst case: all N events inside the 24 h window.
   Target: < 0.5 s over 1M events.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from buildrunner.config import TelemetrySettings  # noqa: E402
from buildrunner.store.db import connect  # noqa: E402
from buildrunner.telemetry import events as ev  # noqa: E402
from buildrunner.telemetry.collector import INSERT_SQL, Collector, event_row  # noqa: E402
from buildrunner.telemetry.metrics import summarize  # noqa: E402

BR = str(ROOT / ".venv" / "bin" / "br")
MODELS = ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1")


def make_events(count: int, seed: int = 1) -> list[ev.Event]:
    """A realistic mix: task lifecycle, model calls, a few failures and violations."""
    rng = random.Random(seed)
    now = time.time()
    made: list[ev.Event] = []
    for index in range(count):
        ts = now - (count - index) * 0.01
        session, task = f"s{index // 5000}", f"t{index % 400}"
        roll = rng.random()
        if roll < 0.15:
            made.append(
                ev.TaskStarted(
                    ts=ts,
                    session_id=session,
                    task_id=task,
                    kind="command",
                    attempt=1,
                    worker_id="w1",
                )
            )
        elif roll < 0.30:
            made.append(
                ev.TaskCompleted(
                    ts=ts,
                    session_id=session,
                    task_id=task,
                    kind="command",
                    attempt=1,
                    duration_ms=rng.lognormvariate(7, 1),
                    exit_code=0,
                )
            )
        elif roll < 0.33:
            made.append(
                ev.TaskFailed(
                    ts=ts,
                    session_id=session,
                    task_id=task,
                    kind="agent",
                    attempt=1,
                    duration_ms=rng.lognormvariate(7, 1),
                    exit_code=1,
                    error_type="exit_code",
                    error="pytest: 3 failed, 120 passed",
                )
            )
        elif roll < 0.63:
            made.append(
                ev.ModelCallCompleted(
                    ts=ts,
                    session_id=session,
                    task_id=task,
                    model=rng.choice(MODELS),
                    input_tokens=rng.randint(500, 20000),
                    output_tokens=rng.randint(50, 4000),
                    cache_read_tokens=rng.randint(0, 5000),
                    cost_usd=rng.uniform(0.0005, 0.2),
                    latency_ms=rng.lognormvariate(7.5, 0.7),
                )
            )
        elif roll < 0.65:
            made.append(
                ev.ModelCallFailed(
                    ts=ts,
                    session_id=session,
                    task_id=task,
                    model=rng.choice(MODELS),
                    error_type="rate_limit",
                    error="429 Too Many Requests",
                    latency_ms=120.0,
                )
            )
        elif roll < 0.66:
            made.append(
                ev.SecurityViolation(
                    ts=ts,
                    session_id=session,
                    path="app/config.py",
                    line=12,
                    rule_id="aws-access-key",
                    match="AKIA************MPLE",
                )
            )
        else:
            made.append(ev.TaskQueued(ts=ts, session_id=session, task_id=task, kind="command"))
    return made


def fresh_db(folder: Path, name: str) -> Path:
    path = folder / name
    connect(path).close()
    return path


def ingest_collector(path: Path, events: list[ev.Event], batch_size: int) -> float:
    settings = TelemetrySettings(batch_size=batch_size, flush_interval_s=0.05)
    collector = Collector(path, settings, apply_retention=False, max_buffer=len(events) + 1)
    start = time.perf_counter()
    for event in events:
        collector.emit(event)
    collector.close()
    elapsed = time.perf_counter() - start
    assert collector.stats.persisted == len(events), collector.stats
    return elapsed


def ingest_raw(path: Path, rows: list[tuple[object, ...]], batch_size: int) -> float:
    conn = connect(path)
    start = time.perf_counter()
    for offset in range(0, len(rows), batch_size):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_SQL, rows[offset : offset + batch_size])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def count_rows(path: Path) -> int:
    conn = connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def bench_ingest(folder: Path, count: int, batch_size: int, rounds: int) -> dict[str, float]:
    """Collector vs raw executemany at the collector's batch size and at 25x that size.

    The collector writes everything pending in one transaction, so under load its batches grow
    past `batch_size`; the larger raw batch is the fair (and best) raw baseline.
    """
    start = time.perf_counter()
    events = make_events(count)  # typed events: validation and masking of free text
    construct_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = [event_row(event) for event in events]
    build_s = time.perf_counter() - start
    big_batch = batch_size * 25
    rates: dict[str, list[float]] = {"collector": [], "raw": [], "raw_big": []}
    for round_index in range(rounds):  # interleaved so machine load hits all alike
        for name in ("raw", "raw_big", "collector"):
            path = fresh_db(folder, f"{name}{round_index}.db")
            if name == "collector":
                elapsed = ingest_collector(path, events, batch_size)
            else:
                elapsed = ingest_raw(path, rows, batch_size if name == "raw" else big_batch)
            assert count_rows(path) == count
            rates[name].append(count / elapsed)
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    collector = statistics.median(rates["collector"])
    raw = statistics.median(rates["raw"])
    raw_big = statistics.median(rates["raw_big"])
    best_raw = max(raw, raw_big)
    return {
        "events": count,
        "batch_size": batch_size,
        "big_batch_size": big_batch,
        "rounds": rounds,
        "collector_events_per_s": round(collector),
        "collector_including_event_construction_events_per_s": round(
            count / (count / collector + construct_s)
        ),
        "raw_executemany_events_per_s": round(raw),
        "raw_executemany_big_batches_events_per_s": round(raw_big),
        "raw_best_including_row_building_events_per_s": round(count / (count / best_raw + build_s)),
        "collector_vs_best_raw": round(collector / best_raw, 3),
    }


def write_summary_db(path: Path, count: int, span_s: float, seed: int = 2) -> None:
    """`count` events evenly over the last `span_s` seconds, written as raw rows (fast)."""
    rng = random.Random(seed)
    conn = connect(path)
    now = time.time()
    step = span_s / count
    chunk: list[tuple[object, ...]] = []
    for index in range(count):
        ts = now - span_s + index * step
        session, task = f"s{index // 5000}", f"t{index % 400}"
        roll = rng.random()
        row: tuple[object, ...]
        if roll < 0.30:
            ok = roll < 0.27
            row = (
                uuid.uuid4().hex,
                "task_completed" if ok else "task_failed",
                ts,
                1,
                session,
                task,
                "info" if ok else "error",
                None,
                int(ok),
                rng.lognormvariate(7, 1),
                None,
                None,
                None,
                None if ok else "exit_code",
                "command",
                '{"attempt":1}',
            )
        elif roll < 0.62:
            ok = roll < 0.60
            row = (
                uuid.uuid4().hex,
                "model_call_completed" if ok else "model_call_failed",
                ts,
                1,
                session,
                task,
                "info",
                rng.choice(MODELS),
                int(ok),
                rng.lognormvariate(7.5, 0.7),
                rng.randint(500, 200000) if ok else None,
                rng.randint(500, 20000) if ok else None,
                rng.randint(50, 4000) if ok else None,
                None if ok else "rate_limit",
                None,
                '{"provider":"anthropic"}',
            )
        else:
            row = (
                uuid.uuid4().hex,
                "task_started",
                ts,
                1,
                session,
                task,
                "info",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                "command",
                '{"attempt":1}',
            )
        chunk.append(row)
        if len(chunk) == 50_000:
            conn.execute("BEGIN")
            conn.executemany(INSERT_SQL, chunk)
            conn.execute("COMMIT")
            chunk = []
    if chunk:
        conn.execute("BEGIN")
        conn.executemany(INSERT_SQL, chunk)
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def time_summary_cli(project: Path, runs: int = 5) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "BR_PROJECT_DIR": str(project)}
    times, data = [], {}
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [BR, "telemetry", "summary", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(time.perf_counter() - start)
        data = json.loads(done.stdout)
    return statistics.median(times), data


def time_startup(project: Path, runs: int = 5) -> float:
    env = {**os.environ, "BR_PROJECT_DIR": str(project)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([BR, "--version"], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_summary(folder: Path, count: int) -> dict[str, object]:
    results: dict[str, object] = {"events": count}
    for layout, span_s in (("spread_30d", 30 * 86400.0), ("all_in_window", 23 * 3600.0)):
        project = folder / layout
        (project / ".buildrunner").mkdir(parents=True)
        db = project / ".buildrunner" / "buildrunner.db"
        start = time.perf_counter()
        write_summary_db(db, count, span_s)
        written_s = time.perf_counter() - start
        wall, data = time_summary_cli(project)
        conn = connect(db)
        start = time.perf_counter()
        now = time.time()
        summarize(conn, now - 86400, now)
        in_process = time.perf_counter() - start
        conn.close()
        results[layout] = {
            "events_in_window": data["events"],
            "br_summary_wall_s": round(wall, 3),
            "summarize_in_process_s": round(in_process, 3),
            "db_written_s": round(written_s, 1),
        }
    results["br_version_wall_s"] = round(time_startup(folder / "spread_30d"), 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about 30 s)")
    parser.add_argument("--ingest", type=int, help="events to ingest (default 200000)")
    parser.add_argument("--summary-events", type=int, help="events for summary (default 1M)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    ingest_count = args.ingest or (20_000 if args.quick else 200_000)
    summary_count = args.summary_events or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="br-telemetry-bench-") as tmp:
        folder = Path(tmp)
        ingest = bench_ingest(folder, ingest_count, args.batch_size, rounds=3)
        summary = bench_summary(folder, summary_count)
    if args.json:
        print(json.dumps({"ingest": ingest, "summary": summary}, indent=2))
        return
    print(
        f"ingest of {ingest['events']:,} events, batches of {ingest['batch_size']}, "
        f"median of {ingest['rounds']} rounds"
    )
    print(f"  collector (emit .. close)          {ingest['collector_events_per_s']:>10,} events/s")
    print(
        f"  collector incl. building the typed events (masking)"
        f" {ingest['collector_including_event_construction_events_per_s']:>8,} events/s"
    )
    print(
        f"  raw executemany, batches of {ingest['batch_size']:<6}"
        f"{ingest['raw_executemany_events_per_s']:>10,} events/s (rows pre-built)"
    )
    print(
        f"  raw executemany, batches of {ingest['big_batch_size']:<6}"
        f"{ingest['raw_executemany_big_batches_events_per_s']:>10,} events/s (rows pre-built)"
    )
    print(
        f"  best raw incl. building the rows   "
        f"{ingest['raw_best_including_row_building_events_per_s']:>10,} events/s"
    )
    print(
        f"  collector / best raw               {ingest['collector_vs_best_raw']:>10.0%}"
        f"   (target >= 50%)"
    )
    print(f"br telemetry summary --json over {summary['events']:,} events (median of 5 runs)")
    for layout in ("spread_30d", "all_in_window"):
        figures = summary[layout]
        assert isinstance(figures, dict)
        print(
            f"  {layout:<15} {figures['events_in_window']:>9,} in 24 h window: "
            f"{figures['br_summary_wall_s']:.3f} s wall (whole process), "
            f"{figures['summarize_in_process_s']:.3f} s in-process   (target < 0.5 s)"
        )
    print(f"  reference: br --version            {summary['br_version_wall_s']:.3f} s wall")


if __name__ == "__main__":
    main()
